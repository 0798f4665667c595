"""Realistic mistakes in values files are rejected by helm with a message that says what to fix."""

from __future__ import annotations

from pathlib import Path

import yaml
from chart_render import DEV_VALUES, render_error


def values_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mistake.yaml"
    path.write_text(text)
    return path


def test_memory_not_in_kubernetes_or_kubespawner_units(tmp_path: Path) -> None:
    # 4Gi (Kubernetes) and 4G (KubeSpawner) are both memory sizes; 4GB is neither.
    mistake = yaml.safe_load(DEV_VALUES.read_text())["singleuser"]["profileList"]
    mistake[0]["memory"]["limit"] = "4GB"
    path = values_file(tmp_path, yaml.safe_dump({"singleuser": {"profileList": mistake}}))
    message = render_error(DEV_VALUES, path)
    assert "/singleuser/profileList/0/memory/limit" in message
    assert "'4GB' does not match" in message


def test_misspelt_key(tmp_path: Path) -> None:
    path = values_file(tmp_path, "cull:\n  timout: 600\n")
    message = render_error(DEV_VALUES, path)
    assert "/cull" in message
    assert "timout" in message
    assert "not allowed" in message


def test_wrong_type(tmp_path: Path) -> None:
    path = values_file(tmp_path, "singleuser:\n  gpuQuota:\n    perUser: one\n")
    message = render_error(DEV_VALUES, path)
    assert "/singleuser/gpuQuota/perUser" in message
    assert "want integer" in message


def test_profile_names_an_unknown_image(tmp_path: Path) -> None:
    mistake = yaml.safe_load(DEV_VALUES.read_text())["singleuser"]["profileList"]
    mistake[1]["image"] = "lab-nlpp"
    path = values_file(tmp_path, yaml.safe_dump({"singleuser": {"profileList": mistake}}))
    message = render_error(DEV_VALUES, path)
    assert (
        'profile "nlp" names image "lab-nlpp", which is not a key of singleuser.images' in message
    )
    assert "(keys: lab-deeplearning, lab-nlp)" in message


def test_course_mapped_to_a_missing_profile(tmp_path: Path) -> None:
    path = values_file(tmp_path, "singleuser:\n  courseProfiles:\n    moodle/ml-1: deep-learning\n")
    message = render_error(DEV_VALUES, path)
    assert 'course "moodle/ml-1" maps to "deep-learning", which is not a profile slug' in message


def test_course_key_from_before_platform_names(tmp_path: Path) -> None:
    path = values_file(tmp_path, 'singleuser:\n  courseProfiles:\n    "101": cpu\n')
    message = render_error(DEV_VALUES, path)
    assert "/singleuser/courseProfiles/101" in message
    assert "with its LTI platform name, e.g. moodle/101 for course 101" in message


def test_ingress_without_hosts(tmp_path: Path) -> None:
    path = values_file(tmp_path, "ingress:\n  enabled: true\n")
    assert "ingress.hosts is empty" in render_error(DEV_VALUES, path)


def test_shared_volume_without_a_source(tmp_path: Path) -> None:
    path = values_file(tmp_path, 'singleuser:\n  storage:\n    shared:\n      hostPath: ""\n')
    message = render_error(DEV_VALUES, path)
    assert "set existingClaim, nfs.server and nfs.path, or hostPath" in message


def test_a_database_password_in_the_url_is_refused(tmp_path: Path) -> None:
    # A password belongs in hub.existingSecret (key hub.db-password), never in values.
    for url in (
        "postgresql+psycopg://jupyterhub:s3cret@db.example.edu/jupyterhub",
        "postgresql+psycopg://jupyterhub@db.example.edu/jupyterhub?sslmode=require&password=s3cret",
    ):
        path = values_file(
            tmp_path, yaml.safe_dump({"hub": {"db": {"type": "external", "url": url}}})
        )
        message = render_error(DEV_VALUES, path)
        assert "hub.db.url carries a password" in message
        assert "hub.db-password" in message
        assert "s3cret" not in message


def test_a_database_url_through_the_traitlets_passthrough_is_refused(tmp_path: Path) -> None:
    url = "postgresql+psycopg://jupyterhub:s3cret@db.example.edu/jupyterhub"
    path = values_file(
        tmp_path, yaml.safe_dump({"hub": {"config": {"JupyterHub": {"db_url": url}}}})
    )
    message = render_error(DEV_VALUES, path)
    assert "hub.config.JupyterHub.db_url" in message
    assert "hub.db" in message
    assert "s3cret" not in message
