"""Read `versions.toml`, the one source of truth for versions pinned outside Python packaging.

Usage from a shell (Dockerfile build args, scripts):
`python -m tools.bootstrap.versions kubernetes.version`.
"""

from __future__ import annotations

import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from tools.bootstrap.paths import REPO_ROOT

VERSIONS_FILE = REPO_ROOT / "versions.toml"


class VersionsError(KeyError):
    """A key asked for is not in versions.toml."""

    def __str__(self) -> str:
        return str(self.args[0])


@cache
def load(path: Path = VERSIONS_FILE) -> dict[str, Any]:
    """The whole file as nested dictionaries."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


def get(key: str, path: Path = VERSIONS_FILE) -> str:
    """One pinned value by dotted key, e.g. `get("kubernetes.version")`."""
    node: Any = load(path)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise VersionsError(f"{key!r} is not pinned in {path.name}; add it there")
        node = node[part]
    if not isinstance(node, str):
        raise VersionsError(f"{key!r} in {path.name} is a table, not a version; name a key in it")
    return node


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.bootstrap.versions SECTION.KEY", file=sys.stderr)
        return 2
    try:
        print(get(argv[0]))
    except VersionsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
