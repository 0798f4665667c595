"""The images a release holds: those the chart runs, built or reused by content hash, pushed."""

from __future__ import annotations

import shutil
from pathlib import Path

from tools.images import build, lock, registry
from tools.images.chart_values import CHART_IMAGE_PATHS
from tools.images.spec import ImageSpec

# Lab images built on this one are the chart's singleuser.images.<name>.
LAB_BASE = "lab-base"


def chart_images(specs: dict[str, ImageSpec], *, everything: bool) -> list[str]:
    """The images the chart runs (hub, proxy, labs); without `everything`, only default images
    (lab-deeplearning, a large GPU image, is not a default one). Dev services stay out."""
    return [
        spec.name
        for spec in specs.values()
        if (spec.name in CHART_IMAGE_PATHS or spec.base == LAB_BASE)
        and (everything or spec.default)
    ]


def lab_keys(names: list[str], specs: dict[str, ImageSpec]) -> set[str]:
    """The released images that go under singleuser.images."""
    return {name for name in names if specs[name].base == LAB_BASE}


def build_and_push(
    specs: dict[str, ImageSpec], names: list[str], registry_path: str, release_lock: Path
) -> dict[str, lock.LockedImage]:
    """Build what changed (reusing what Docker has by content hash), copy the lock to
    `release_lock` and push the images there; returns the pushed entries with digests.

    The working tree's lock keeps what was built; the digests of this registry are the release's.
    """
    build.build(specs, names)
    release_lock.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lock.LOCK_FILE, release_lock)
    return registry.push(registry_path, names, release_lock)
