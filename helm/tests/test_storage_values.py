"""`singleuser.storage` in z2jh's form: the chart accepts it, explains moved keys, and creates no
cluster-scoped objects for storage."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from chart_render import DEV_VALUES, PRODUCTION_VALUES, find, render, render_error, secret_text

from hubconfig import values

HUB_CONFIG = "jh-jupyterhub-k8s-hub-config"
# What `kubectl api-resources --namespaced=false` lists among the kinds a chart might render.
CLUSTER_SCOPED = {
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "Namespace",
    "PriorityClass",
}

# A z2jh user's storage section, as z2jh documents it, with this chart's safe claim names.
Z2JH_STORAGE = """
singleuser:
  storage:
    type: dynamic
    capacity: 10Gi
    homeMountPath: /home/jovyan
    extraLabels:
      backup: nightly
    dynamic:
      storageClass: cephfs
      pvcNameTemplate: claim-{unescaped_username}--{servername}
      volumeNameTemplate: volume-home
      storageAccessModes: [ReadWriteMany]
    extraVolumes:
      - name: datasets
        persistentVolumeClaim:
          claimName: datasets
    extraVolumeMounts:
      - name: datasets
        mountPath: /srv/datasets
        readOnly: true
"""


def values_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "storage.yaml"
    path.write_text(text)
    return path


def mounted_values(*values_files: Path) -> dict:
    secret = find(render(*values_files), "Secret", HUB_CONFIG)
    return yaml.safe_load(secret_text(secret, "values.yaml"))


@pytest.mark.parametrize(
    "shared",
    [
        None,
        {"existingClaim": "course-data"},
        {"nfs": {"server": "nfs.example.edu", "path": "/export"}},
        {"hostPath": "/srv/course-data"},
    ],
)
def test_the_chart_creates_no_cluster_scoped_object(tmp_path: Path, shared: dict | None) -> None:
    """Storage never needs cluster-wide rights: with the GPU availability reader off (the only
    default that asks for a ClusterRole), no values file creates a cluster-scoped object."""
    no_availability = tmp_path / "no-availability.yaml"
    no_availability.write_text(
        yaml.safe_dump({"singleuser": {"gpu": {"availability": {"enabled": False}}}})
    )
    files = [[DEV_VALUES, no_availability], [PRODUCTION_VALUES, no_availability]]
    if shared:
        courses = [{"folder": "c1", "readOnlyGroups": ["course-moodle.1"]}]
        text = yaml.safe_dump(
            {"singleuser": {"storage": {"shared": {"enabled": True, **shared, "courses": courses}}}}
        )
        files = [[values_file(tmp_path, text), no_availability]]
    for paths in files:
        kinds = {manifest["kind"] for manifest in render(*paths)}
        assert not kinds & CLUSTER_SCOPED, (paths, kinds)


def test_z2jh_storage_values_are_accepted_with_their_meaning(tmp_path: Path) -> None:
    mounted = mounted_values(values_file(tmp_path, Z2JH_STORAGE))
    assert values.describe_errors(mounted) == []
    storage = mounted["singleuser"]["storage"]
    assert storage["capacity"] == "10Gi"
    assert storage["dynamic"]["storageAccessModes"] == ["ReadWriteMany"]
    assert storage["extraVolumeMounts"][0]["readOnly"] is True


@pytest.mark.parametrize("capacity", ["10Gi", "10G", "500Mi", "1Ti"])
def test_capacity_is_a_kubernetes_quantity(tmp_path: Path, capacity: str) -> None:
    path = values_file(tmp_path, f"singleuser:\n  storage:\n    capacity: {capacity}\n")
    assert mounted_values(path)["singleuser"]["storage"]["capacity"] == capacity


def test_static_storage_needs_the_claim(tmp_path: Path) -> None:
    path = values_file(tmp_path, "singleuser:\n  storage:\n    type: static\n")
    assert "singleuser.storage.static.pvcName is empty" in render_error(DEV_VALUES, path)
    path.write_text(
        "singleuser:\n  storage:\n    type: static\n    static:\n      pvcName: homes\n"
    )
    static = mounted_values(path)["singleuser"]["storage"]["static"]
    assert static == {"pvcName": "homes", "subPath": "{unescaped_username}"}


@pytest.mark.parametrize(
    ("text", "where", "fix"),
    [
        (
            "singleuser:\n  storage:\n    storageClass: ceph-rbd\n",
            "/singleuser/storage/storageClass",
            "moved: set singleuser.storage.dynamic.storageClass instead",
        ),
        (
            "singleuser:\n  storage:\n    shared:\n      capacity: 2Ti\n",
            "/singleuser/storage/shared/capacity",
            "not used any more: the chart creates no PersistentVolume",
        ),
    ],
)
def test_a_key_from_0_1_0_says_where_it_went(
    tmp_path: Path, text: str, where: str, fix: str
) -> None:
    message = render_error(DEV_VALUES, values_file(tmp_path, text))
    assert where in message
    assert fix in message


@pytest.mark.parametrize(
    ("template", "accepted"),
    [
        ("claim-{unescaped_username}", True),
        ("claim-{unescaped_username}--{servername}", True),
        ("claim-{username}{servername}", False),
        ("claim-{username}", False),
        ("{unescaped_username}", False),
    ],
)
def test_only_collision_free_claim_names_are_accepted(
    tmp_path: Path, template: str, accepted: bool
) -> None:
    path = values_file(
        tmp_path, f'singleuser:\n  storage:\n    dynamic:\n      pvcNameTemplate: "{template}"\n'
    )
    if accepted:
        assert mounted_values(path)["singleuser"]["storage"]["dynamic"]["pvcNameTemplate"] == (
            template
        )
    else:
        message = render_error(DEV_VALUES, path)
        assert "/singleuser/storage/dynamic/pvcNameTemplate" in message


@pytest.mark.parametrize("sub_path", ["{username}", "home/{username}", "{unescaped_username}/.."])
def test_a_static_home_folder_must_be_the_username_as_is(tmp_path: Path, sub_path: str) -> None:
    path = values_file(
        tmp_path,
        f'singleuser:\n  storage:\n    static:\n      pvcName: h\n      subPath: "{sub_path}"\n',
    )
    assert "/singleuser/storage/static/subPath" in render_error(DEV_VALUES, path)


def test_course_folders_are_required_and_listed_once(tmp_path: Path) -> None:
    path = values_file(tmp_path, "singleuser:\n  storage:\n    shared:\n      courses: []\n")
    assert "shared.courses is empty" in render_error(DEV_VALUES, path)
    twice = [{"folder": "c1", "readOnlyGroups": ["a"]}, {"folder": "c1", "readWriteGroups": ["b"]}]
    path.write_text(yaml.safe_dump({"singleuser": {"storage": {"shared": {"courses": twice}}}}))
    assert 'the folder "c1" is listed twice' in render_error(DEV_VALUES, path)


@pytest.mark.parametrize("order", [1, -1])
def test_a_course_folder_inside_another_listed_one_is_refused(tmp_path: Path, order: int) -> None:
    # Learners who read (or write) nlp-101 would reach nlp-101/solutions through that mount,
    # whatever groups the inner folder lists.
    courses = [
        {"folder": "nlp-101", "readOnlyGroups": ["course-moodle.nlp-101"]},
        {"folder": "nlp-101/solutions", "readOnlyGroups": ["staff-moodle.nlp-101"]},
    ][::order]
    path = values_file(
        tmp_path, yaml.safe_dump({"singleuser": {"storage": {"shared": {"courses": courses}}}})
    )
    assert 'the folder "nlp-101/solutions" lies inside the listed folder "nlp-101"' in render_error(
        DEV_VALUES, path
    )


def test_a_course_folder_path_outside_the_volume_is_refused(tmp_path: Path) -> None:
    courses = [{"folder": "../../etc", "readOnlyGroups": ["course-moodle.101"]}]
    path = values_file(
        tmp_path, yaml.safe_dump({"singleuser": {"storage": {"shared": {"courses": courses}}}})
    )
    assert "/singleuser/storage/shared/courses/0/folder" in render_error(DEV_VALUES, path)
