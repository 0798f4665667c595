"""Render the chart with the pinned helm; every chart test finds helm through `helm_binary`."""

from __future__ import annotations

import base64
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import binaries

HELM_DIR = Path(__file__).resolve().parents[1]
CHART = HELM_DIR / "jupyterhub-k8s"
DEV_VALUES = HELM_DIR / "values-dev.yaml"
PRODUCTION_VALUES = HELM_DIR / "values-production.yaml"
RELEASE = "jh"
NAMESPACE = "teaching"


@cache
def helm_binary() -> Path:
    """The helm pinned in versions.toml: on PATH if it matches, else cached, else built now."""
    return binaries.ensure("helm")


def run_helm(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm_binary()), *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )


def template_args(
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    namespace: str = NAMESPACE,
    api_versions: tuple[str, ...] = (),
) -> list[str]:
    """`helm template` arguments; `api_versions` are APIs the chart sees as the cluster's
    (.Capabilities), such as monitoring.coreos.com/v1/ServiceMonitor."""
    args = ["template", RELEASE, str(CHART), "--namespace", namespace]
    for path in values_files:
        args += ["-f", str(path)]
    for assignment in sets:
        args += ["--set", assignment]
    for api in api_versions:
        args += ["--api-versions", api]
    return args


def render(
    *values_files: Path, sets: tuple[str, ...] = (), api_versions: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The manifests `helm template` renders; fails the test with helm's message if it cannot."""
    result = run_helm(*template_args(values_files, sets, api_versions=api_versions))
    if result.returncode != 0:
        pytest.fail(f"helm template failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(
    *values_files: Path, sets: tuple[str, ...] = (), api_versions: tuple[str, ...] = ()
) -> str:
    """helm's error message for values it must reject."""
    result = run_helm(*template_args(values_files, sets, api_versions=api_versions))
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
