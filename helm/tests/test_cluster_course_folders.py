"""Storage in the kind cluster: two people and a course folder (the instructor writes, the
learner reads and cannot write, a user outside the course does not see the folder), and homes
per server.

Needs what test_cluster_install.py needs (the cluster up, the hub, proxy and lab-base images
built). The release lives in its own namespace and is removed after; the course folder is a
folder of the host folder every kind node mounts (devenv.cluster_config.SHARED_DIR_IN_NODE).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_cluster_install import api, installed_hub_api, release_values, wait_until

from devenv import cluster_config
from tools.bootstrap.run import RunError

pytestmark = pytest.mark.cluster

NAMESPACE = "course-folders-e2e"
RELEASE = "cf"
CLUSTER = cluster_config.current()
KUBECTL = CLUSTER.kubectl.in_namespace(NAMESPACE)
VOLUME_DIR = "course-folders-e2e"
FOLDER = "moodle-101"
IN_LAB = f"/srv/shared/{FOLDER}"
SPAWN_WAIT_S = 300


@pytest.fixture(scope="module")
def course_volume() -> Iterator[Path]:
    """The course folder on the host, writable by the labs' uid (as an NFS admin would set it)."""
    root = CLUSTER.shared_dir / VOLUME_DIR
    shutil.rmtree(root, ignore_errors=True)
    (root / FOLDER).mkdir(parents=True)
    (root / FOLDER).chmod(0o777)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def hub_api(course_volume: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chart_values = release_values()
    chart_values["singleuser"]["storage"] = {
        "dynamic": {"pvcNameTemplate": "claim-{unescaped_username}--{servername}"},
        "shared": {
            "enabled": True,
            "hostPath": f"{cluster_config.SHARED_DIR_IN_NODE}/{VOLUME_DIR}",
            "courses": [
                {
                    "folder": FOLDER,
                    "readOnlyGroups": ["course-moodle.101"],
                    "readWriteGroups": ["staff-moodle.101"],
                }
            ],
        },
    }
    overrides = tmp_path_factory.mktemp("course-folders") / "values.yaml"
    overrides.write_text(yaml.safe_dump(chart_values))
    with installed_hub_api(overrides, release=RELEASE, namespace=NAMESPACE) as url:
        yield url


def start_lab(url: str, user: str, groups: list[str], server: str = "") -> str:
    """Create `user` in `groups`, start their lab (`server`) and return its pod's name."""
    assert api(url, "POST", f"/users/{user}").status_code in (201, 409)
    for group in groups:
        api(url, "POST", f"/groups/{group}")
        added = api(url, "POST", f"/groups/{group}/users", json={"users": [user]})
        assert added.ok, added.text
    path = f"/users/{user}/servers/{server}" if server else f"/users/{user}/server"
    started = api(url, "POST", path, json={"profile": "cpu"})
    assert started.status_code in (201, 202), started.text
    wait_until(
        lambda: api(url, "GET", f"/users/{user}").json()["servers"].get(server, {}).get("ready"),
        SPAWN_WAIT_S,
        f"{user}'s lab {server!r} to be ready",
    )
    return f"jupyter-{user}--{server}" if server else f"jupyter-{user}"


def home_claim(pod: str) -> str:
    volumes = {volume["name"]: volume for volume in KUBECTL.get("pod", pod)["spec"]["volumes"]}
    return volumes["home"]["persistentVolumeClaim"]["claimName"]


def in_lab(pod: str, script: str) -> str:
    return KUBECTL("exec", pod, "-c", "notebook", "--", "sh", "-c", script)


def test_instructor_writes_learner_reads_outsider_sees_nothing(hub_api: str) -> None:
    instructor = start_lab(hub_api, "ines", ["course-moodle.101", "staff-moodle.101"])
    learner = start_lab(hub_api, "lena", ["course-moodle.101"])
    outsider = start_lab(hub_api, "otto", ["course-moodle.202"])

    in_lab(instructor, f"echo 'week 1: tokenisers' > {IN_LAB}/notes.txt")
    assert in_lab(learner, f"cat {IN_LAB}/notes.txt") == "week 1: tokenisers\n"

    with pytest.raises(RunError) as refused:
        in_lab(learner, f"echo tampered > {IN_LAB}/notes.txt")
    assert "Read-only file system" in str(refused.value)
    with pytest.raises(RunError):
        in_lab(learner, f"touch {IN_LAB}/new-file")
    assert in_lab(instructor, f"cat {IN_LAB}/notes.txt") == "week 1: tokenisers\n"

    assert in_lab(outsider, f"test -e {IN_LAB} && echo seen || echo absent") == "absent\n"
    assert in_lab(outsider, "ls -A /srv/shared 2>/dev/null | wc -l") == "0\n"
    for user in ("ines", "lena", "otto"):
        api(hub_api, "DELETE", f"/users/{user}/server")


def test_each_named_server_gets_its_own_home(hub_api: str) -> None:
    default = start_lab(hub_api, "pat", ["students"])
    named = start_lab(hub_api, "pat", ["students"], server="two")
    assert (home_claim(default), home_claim(named)) == ("claim-pat", "claim-pat--two")
    in_lab(default, "echo default > ~/which-home")
    assert in_lab(named, "cat ~/which-home 2>/dev/null || echo none") == "none\n"
    assert in_lab(default, "cat ~/which-home") == "default\n"
    api(hub_api, "DELETE", "/users/pat/servers/two")
    api(hub_api, "DELETE", "/users/pat/server")
