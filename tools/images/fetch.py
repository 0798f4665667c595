"""Files an image's build needs that do not live in the repo, fetched by their version pins.

Each fetcher returns a folder that is copied into the build context under the fetcher's name.
They are not hashed: the versions.toml keys in the image's `build_args` already name them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from tools import keycloak_distribution

FETCHERS: dict[str, Callable[[], Path]] = {"keycloak-distribution": keycloak_distribution.fetch}
# What a host run leaves in a fetched folder (the dev Keycloak runs from the same cache).
LEFT_BY_HOST_RUNS = shutil.ignore_patterns("data", "*.pid", "*.log")


def known(name: str) -> bool:
    return name in FETCHERS


def copy_into(name: str, context: Path) -> None:
    """Fetch (or reuse from the cache) and copy into `context/<name>`."""
    shutil.copytree(FETCHERS[name](), context / name, ignore=LEFT_BY_HOST_RUNS, symlinks=True)
