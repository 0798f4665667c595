"""Promotion: copy a release from the registry it was pushed to (staging) to the one its chart
names the images in (`published_as`, production), byte for byte.

`python -m tools.release.promote VERSION` reads the release's manifest (dist/releases/VERSION/
release.json), copies every image by digest and then the chart by digest with crane, and checks
that the target serves each one under the same digest: production gets the very manifests the
rehearsal installed, and the chart's pins (made at release time, naming production) hold there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tools import binaries
from tools.bootstrap.progress import say, step
from tools.bootstrap.run import RunError, run
from tools.release.chart import CHART_NAME, CHARTS_PATH, LOOPBACK_HOSTS
from tools.release.manifest import MANIFEST_NAME
from tools.release.release import RELEASES_DIR


class PromotionError(RuntimeError):
    """The manifest is missing or inconsistent, or the target serves another digest."""


def crane(*args: str) -> str:
    # crane speaks HTTPS; a loopback registry (the local one) speaks plain HTTP.
    insecure = ["--insecure"] if any(arg.startswith(LOOPBACK_HOSTS) for arg in args) else []
    return run([binaries.ensure("crane"), *args, *insecure]).strip()


def read_manifest(version: str, releases: Path = RELEASES_DIR) -> dict[str, Any]:
    path = releases / version / MANIFEST_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise PromotionError(f"no release {version} here: {path} is missing") from error


def copies(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source@digest, target:tag, digest) for each image, then the chart."""
    source, target = manifest["registry"].rstrip("/"), manifest["published_as"].rstrip("/")
    planned = []
    for name, image in sorted(manifest["images"].items()):
        reference, digest = image["digest"].split("@", 1)
        if not reference.startswith(source + "/"):
            raise PromotionError(f"{name}: {reference} is not in the release's registry {source}")
        path = reference.removeprefix(source + "/")
        tag = manifest["lock"][name]["tag"]
        planned.append((f"{reference}@{digest}", f"{target}/{path}:{tag}", digest))
    chart = f"{CHARTS_PATH}/{CHART_NAME}"
    chart_digest = manifest["chart"]["digest"]
    planned.append(
        (
            f"{source}/{chart}@{chart_digest}",
            f"{target}/{chart}:{manifest['version']}",
            chart_digest,
        )
    )
    return planned


def promote(version: str, releases: Path = RELEASES_DIR) -> list[str]:
    """Copy the release's images and chart to `published_as`; returns the copied references."""
    manifest = read_manifest(version, releases)
    source, target = manifest["registry"], manifest["published_as"]
    if source.rstrip("/") == target.rstrip("/"):
        raise PromotionError(
            f"release {version} was pushed to {target}, where its chart names its images: "
            "nothing to promote (release with --published-as to stage it elsewhere)"
        )
    copied = []
    with step(f"promote {version}: {source} -> {target}"):
        for origin, destination, digest in copies(manifest):
            crane("copy", origin, destination)
            served = crane("digest", destination)
            if served != digest:
                raise PromotionError(f"{destination} serves {served}, not {digest}")
            say(f"    {destination}@{digest}")
            copied.append(destination)
    return copied


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release.promote", description=__doc__)
    parser.add_argument("version", help="a release made here (dist/releases/VERSION)")
    args = parser.parse_args(argv)
    try:
        promote(args.version)
    except (PromotionError, RunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
