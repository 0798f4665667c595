"""The release manifest (`release.json`): what a release is made of, for people and for the
steps after it (the rehearsal installs the chart by version and checks these digests)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tools.bootstrap import versions
from tools.images import lock

MANIFEST_NAME = "release.json"


def document(
    *,
    version: str,
    commit: str,
    uncommitted: list[str],
    registry_path: str,
    published: str,
    chart_reference: str,
    chart_digest: str,
    pushed: dict[str, lock.LockedImage],
    release_lock: Path,
) -> dict[str, Any]:
    """The manifest: the version, the commit (and the paths that differed from it when the
    release started: a tag's checkout has none), each image's pushed digest, the chart's digest,
    versions.toml's pins and the image lock as pushed (digests of this registry). `published_as`
    is the registry the chart names the images in (a promotion copies them there)."""
    return {
        "version": version,
        "commit": commit,
        "uncommitted": uncommitted,
        "registry": registry_path,
        "published_as": published,
        "chart": {"reference": chart_reference, "version": version, "digest": chart_digest},
        "images": {name: {"digest": entry.digest} for name, entry in sorted(pushed.items())},
        "versions": versions.load(),
        "lock": {name: asdict(entry) for name, entry in sorted(lock.read(release_lock).items())},
    }


def write(folder: Path, manifest: dict[str, Any]) -> Path:
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path
