"""The chart as released: a staging copy with the images pinned, packaged and pushed with helm."""

from __future__ import annotations

import re
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tools import binaries
from tools.bootstrap.paths import REPO_ROOT
from tools.bootstrap.run import RunError, run

CHART = REPO_ROOT / "helm" / "jupyterhub-k8s"
CHART_NAME = "jupyterhub-k8s"
CHARTS_PATH = "charts"
LOOPBACK_HOSTS = ("localhost", "127.", "[::1]")
DIGEST_LINE = re.compile(r"^Digest: (sha256:[0-9a-f]{64})$", re.MULTILINE)
# What helm reports for a tag the registry does not have ("...:1.2.0: not found").
NOT_FOUND = ": not found"


class ChartError(RuntimeError):
    """The chart could not be packaged, pushed or compared."""


def merge(values: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with `overrides` merged in, maps key by key (as Helm merges values files)."""
    merged = dict(values)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def stage(staging: Path, pinned: Mapping[str, Any]) -> Path:
    """A copy of the chart in `staging` whose values.yaml defaults to the `pinned` images; the
    working tree is not touched. (PyYAML keeps no comments: the packaged values.yaml has none;
    values.schema.json and helm/README.md document the values.)"""
    copy = staging / CHART_NAME
    shutil.copytree(CHART, copy)
    values_file = copy / "values.yaml"
    values = yaml.safe_load(values_file.read_text())
    values_file.write_text(yaml.safe_dump(merge(values, pinned), sort_keys=False))
    return copy


def helm(*args: str | Path, log: Path) -> str:
    log.write_text("")
    return run([binaries.ensure("helm"), *args], log=log)


def plain_http(registry_path: str) -> list[str]:
    """Helm speaks HTTPS to registries; the local one (a loopback address) speaks plain HTTP."""
    return ["--plain-http"] if registry_path.startswith(LOOPBACK_HOSTS) else []


def oci_repository(registry_path: str) -> str:
    return f"oci://{registry_path.rstrip('/')}/{CHARTS_PATH}"


def package(chart: Path, version: str, destination: Path, log: Path) -> Path:
    """`helm lint --strict` (the pinned values against values.schema.json), then the package,
    with `version` and `appVersion` both the release version."""
    helm("lint", "--strict", chart, log=log)
    helm("package", chart, "--version", version, "--app-version", version,
         "--destination", destination, log=log)  # fmt: skip
    return destination / f"{CHART_NAME}-{version}.tgz"


def digest_in(log: Path) -> str:
    """The manifest digest that `helm push` or `helm pull` reported (on standard error)."""
    found = DIGEST_LINE.findall(log.read_text())
    if not found:
        raise ChartError(f"helm reported no digest; see {log}")
    return found[-1]


def push(packaged: Path, registry_path: str, log: Path) -> str:
    """Push the packaged chart; returns its manifest digest."""
    helm("push", packaged, oci_repository(registry_path), *plain_http(registry_path), log=log)
    return digest_in(log)


def pull(registry_path: str, version: str, destination: Path, log: Path) -> tuple[Path, str] | None:
    """The released chart of `version` and its digest, or None when the registry has none."""
    reference = f"{oci_repository(registry_path)}/{CHART_NAME}"
    destination.mkdir(parents=True, exist_ok=True)
    try:
        helm("pull", reference, "--version", version, "--destination", destination,
             *plain_http(registry_path), log=log)  # fmt: skip
    except RunError as error:
        if NOT_FOUND in error.output_tail:
            return None
        raise
    return destination / f"{CHART_NAME}-{version}.tgz", digest_in(log)


def contents(packaged: Path) -> dict[str, bytes]:
    """Each file of a packaged chart by its path: what two packages are compared by (helm
    writes the packaging time into the archive, so the bytes of two packages always differ)."""
    with tarfile.open(packaged) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def differences(released: Path, candidate: Path) -> list[str]:
    """The paths whose content differs between two packaged charts (empty: identical)."""
    old, new = contents(released), contents(candidate)
    return sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path))
