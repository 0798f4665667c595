"""`python -m tools.release VERSION [--registry HOST[/PATH]] [--published-as HOST[/PATH]]
[--images default|all]`.

A release of the chart and its images; tools/README.md, "Releases".
"""

from __future__ import annotations

import argparse
import sys

from tools import local_registry
from tools.bootstrap import dockerd
from tools.bootstrap.run import RunError
from tools.images import build, lock, registry, spec
from tools.release import chart, images
from tools.release.release import (
    DEFAULT_REGISTRY,
    RELEASES_DIR,
    RegistryPathError,
    ReleaseRefused,
    release,
    staging_for,
)
from tools.release.upgrade_notes import UpgradeNotesMissing
from tools.release.version import VersionError


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__)
    main.add_argument("version", help="the release's semantic version, e.g. 1.2.0")
    main.add_argument(
        "--registry",
        default=None,
        help=f"HOST[:PORT][/PATH] to push to (default: the local registry, {DEFAULT_REGISTRY}, "
        "under the path of --published-as: the staging repository of a tag's release)",
    )
    main.add_argument(
        "--published-as",
        default=None,
        metavar="HOST[/PATH]",
        help="the registry the chart names the images in, where a promotion copies them "
        "(default: --registry); a staging release names production's",
    )
    main.add_argument(
        "--images",
        choices=("default", "all"),
        default="default",
        help="the chart's default images, or all of them (lab-deeplearning too: the tag workflow)",
    )
    return main


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        specs = spec.load()
        names = images.chart_images(specs, everything=args.images == "all")
        registry_path = args.registry or staging_for(args.published_as)
        done = release(args.version, registry_path, names, RELEASES_DIR, args.published_as)
    except (
        VersionError,
        UpgradeNotesMissing,
        RegistryPathError,
        ReleaseRefused,
        chart.ChartError,
        spec.SpecError,
        lock.LockError,
        build.BuildError,
        registry.RegistryError,
        dockerd.DockerError,
        local_registry.RegistryNotReady,
        RunError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"released {args.version}: {done.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
