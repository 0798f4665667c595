"""Course folders: a lab mounts the folders its user's groups allow, read-only for learners."""

from __future__ import annotations

from typing import Any

import pytest
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    chart_values_fixture,
    hub_user,
    make_spawner,
    offline_kubeconfig_fixture,
)

from hubconfig import values
from hubconfig.spawner import ProfileSpawner
from hubconfig.storage import COURSE_VOLUME

pytestmark = pytest.mark.usefixtures("offline_kubeconfig")

COURSES = [
    {
        "folder": "moodle-101",
        "readOnlyGroups": ["course-moodle.101"],
        "readWriteGroups": ["staff-moodle.101"],
    },
    {"folder": "shared/handbook", "readOnlyGroups": ["course-moodle.101", "instructor"]},
]


@pytest.fixture(name="course_values")
def course_values_fixture(chart_values: dict) -> dict:
    chart_values["singleuser"]["storage"]["shared"].update(
        enabled=True, nfs={"server": "nfs.example.edu", "path": "/export/courses"}, courses=COURSES
    )
    return chart_values


async def started(chart_values: dict, username: str, groups: list[str]) -> ProfileSpawner:
    spawner = make_spawner(chart_values, hub_user(username, groups))
    await spawner.check_and_apply({})
    return spawner


def course_mounts(spawner: ProfileSpawner) -> dict[str, dict[str, Any]]:
    return {
        mount["mountPath"]: mount
        for mount in spawner.volume_mounts
        if mount["name"] == COURSE_VOLUME
    }


async def test_a_learner_mounts_the_course_folder_read_only(course_values: dict) -> None:
    spawner = await started(course_values, "stu", ["course-moodle.101"])
    assert course_mounts(spawner) == {
        "/srv/shared/moodle-101": {
            "name": COURSE_VOLUME,
            "mountPath": "/srv/shared/moodle-101",
            "subPath": "moodle-101",
            "readOnly": True,
        },
        "/srv/shared/shared/handbook": {
            "name": COURSE_VOLUME,
            "mountPath": "/srv/shared/shared/handbook",
            "subPath": "shared/handbook",
            "readOnly": True,
        },
    }
    # The NFS export is mounted by the pod itself: no PersistentVolume is involved.
    assert {
        "name": COURSE_VOLUME,
        "nfs": {"server": "nfs.example.edu", "path": "/export/courses"},
    } in spawner.volumes


async def test_a_read_write_group_wins_over_a_read_only_one(course_values: dict) -> None:
    spawner = await started(
        course_values, "ines", ["course-moodle.101", "staff-moodle.101", "instructor"]
    )
    mounts = course_mounts(spawner)
    assert mounts["/srv/shared/moodle-101"]["readOnly"] is False
    assert mounts["/srv/shared/shared/handbook"]["readOnly"] is True


async def test_a_user_outside_the_course_gets_no_folder_and_no_volume(
    course_values: dict,
) -> None:
    spawner = await started(course_values, "olga", ["course-moodle.202", "students"])
    assert course_mounts(spawner) == {}
    assert COURSE_VOLUME not in {volume["name"] for volume in spawner.volumes}


async def test_the_pod_carries_the_read_only_mount(course_values: dict) -> None:
    spawner = await started(course_values, "stu", ["course-moodle.101"])
    pod = await spawner.get_pod_manifest()
    (lab,) = [c for c in pod.spec.containers if c.name == "notebook"]
    mounts = {mount.mount_path: mount for mount in lab.volume_mounts}
    assert mounts["/srv/shared/moodle-101"].read_only is True
    assert mounts["/srv/shared/moodle-101"].sub_path == "moodle-101"


async def test_hostile_names_and_groups_never_reach_a_path(course_values: dict) -> None:
    # Groups an attacker might get granted (an LTI context id is the course's choice) and a
    # username the hub refuses anyway: only exact group names match, paths come from values.
    groups = [
        "course-moodle.101/../../etc",
        "course-moodle.101 ",
        "COURSE-MOODLE.101",
        "course-moodle.*",
        "../moodle-101",
    ]
    spawner = await started(course_values, "eve", groups)
    assert course_mounts(spawner) == {}
    learner = await started(course_values, "eve", [*groups, "course-moodle.101"])
    assert {mount["subPath"] for mount in course_mounts(learner).values()} == {
        "moodle-101",
        "shared/handbook",
    }


async def test_each_start_mounts_the_folders_of_the_groups_at_that_time(
    course_values: dict,
) -> None:
    user = hub_user("stu", ["course-moodle.101"])
    spawner = make_spawner(course_values, user)
    await spawner.check_and_apply({})
    await spawner.check_and_apply({})
    assert len(course_mounts(spawner)) == 2
    assert [v["name"] for v in spawner.volumes].count(COURSE_VOLUME) == 1
    user.groups = []
    await spawner.check_and_apply({})
    assert course_mounts(spawner) == {}


@pytest.mark.parametrize(
    "folder",
    ["../etc", "/etc", "a/../../etc", "a/./b", ".hidden", "a//b", "a/", "", "a\\..\\b"],
)
def test_a_folder_outside_the_volume_is_refused_by_the_schema(
    course_values: dict, folder: str
) -> None:
    course_values["singleuser"]["storage"]["shared"]["courses"] = [
        {"folder": folder, "readOnlyGroups": ["course-moodle.101"]}
    ]
    (problem,) = values.describe_errors(course_values)
    assert problem.startswith("singleuser.storage.shared.courses[0].folder: ")
