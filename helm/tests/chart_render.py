"""Render the chart with the pinned helm; every chart test finds helm through `helm_binary`."""

from __future__ import annotations

import base64
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import tools

HELM_DIR = Path(__file__).resolve().parents[1]
CHART = HELM_DIR / "jupyterhub-k8s"
DEV_VALUES = HELM_DIR / "values-dev.yaml"
PRODUCTION_VALUES = HELM_DIR / "values-production.yaml"
RELEASE = "jh"
NAMESPACE = "teaching"


@cache
def helm_binary() -> Path:
    """The helm pinned in versions.toml: on PATH if it matches, else cached, else built now."""
    return tools.ensure("helm")


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm_binary()), *args], capture_output=True, text=True, timeout=120, check=False
    )


def template_args(
    values_files: tuple[Path, ...], sets: tuple[str, ...], namespace: str = NAMESPACE
) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", namespace]
    for path in values_files:
        args += ["-f", str(path)]
    for assignment in sets:
        args += ["--set", assignment]
    return args


def render(*values_files: Path, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The manifests `helm template` renders; fails the test with helm's message if it cannot."""
    result = run_helm(*template_args(values_files, sets))
    if result.returncode != 0:
        pytest.fail(f"helm template failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(*values_files: Path, sets: tuple[str, ...] = ()) -> str:
    """helm's error message for values it must reject."""
    result = run_helm(*template_args(values_files, sets))
    assert result.returncode != 0, "helm accepted values it should reject"
    return result.stderr


def find(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert matches, (
        f"no {kind} {name} among {[(m['kind'], m['metadata']['name']) for m in manifests]}"
    )
    return matches[0]


def secret_text(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


# Which chart value each built image fills; lab images other than lab-base go to
# `singleuser.images.<image name>` when the values name that key.
IMAGE_VALUES = {
    "hub": ("hub", "image"),
    "configurable-http-proxy": ("proxy", "chp", "image"),
    "lab-base": ("singleuser", "image"),
}


def image_values(locked: dict[str, Any], lab_keys: set[str]) -> dict[str, Any]:
    """Values that point the chart at the images in the lock file (`devenv.images.lock.read()`).

    `locked` maps image names to entries with `repository` and `tag`; `lab_keys` are the keys of
    `singleuser.images` the values use. The dev environment passes the result as a second
    values file after values-dev.yaml.
    """
    values: dict[str, Any] = {}
    for name, entry in locked.items():
        path = IMAGE_VALUES.get(name) or (
            ("singleuser", "images", name) if name in lab_keys else None
        )
        if path is None:
            continue
        node = values
        for key in path:
            node = node.setdefault(key, {})
        node.update(name=entry.repository, tag=entry.tag)
    return values
