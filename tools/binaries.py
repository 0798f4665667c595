"""The pinned command-line tools: kind, kubectl, helm, the OCI registry
(CNCF Distribution) and crane (copies images between registries by digest).

Each is the binary on PATH when its version is the pinned one, otherwise a build from the Go
module proxy cached in `cache_dir()/tools/<name>-<version>/bin`. kubectl follows
`kubernetes.version`; kind, helm, the registry and crane are pinned under `[tools]` in
versions.toml.

CLI: `python -m tools.binaries [NAME ...]` prints the path of each tool, building what is missing.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tools import gobuild
from tools.bootstrap import prerequisites, versions
from tools.bootstrap.paths import cache_dir
from tools.bootstrap.progress import say, step
from tools.bootstrap.run import RunError, run


@dataclass(frozen=True)
class Tool:
    """A pinned tool: its version key, how a binary reports its version, how to build it."""

    name: str
    version_key: str
    version_command: tuple[str, ...]
    parse_version: Callable[[str], str]
    build: Callable[[str, Path], None]

    @property
    def version(self) -> str:
        return versions.get(self.version_key)

    def cached_binary(self) -> Path:
        return cache_dir() / "tools" / f"{self.name}-{self.version}" / "bin" / self.name


def kubectl_version(output: str) -> str:
    return json.loads(output)["clientVersion"]["gitVersion"]


def kind_version(output: str) -> str:
    # "kind v0.33.0 go1.24.13 linux/amd64"
    return output.split()[1]


def build_kind(version: str, bin_dir: Path) -> None:
    gobuild.go_install("sigs.k8s.io/kind", version, bin_dir)


def build_helm(version: str, bin_dir: Path) -> None:
    # Without it, `helm version` reports only the minor version written in its source.
    ldflags = f"-X helm.sh/helm/v3/internal/version.version={version}"
    gobuild.go_install("helm.sh/helm/v3/cmd/helm", version, bin_dir, ldflags=ldflags)


def build_registry(version: str, bin_dir: Path) -> None:
    # Without it, `registry --version` reports "<version>+unknown".
    ldflags = f"-X github.com/distribution/distribution/v3/version.version={version}"
    gobuild.go_install(
        "github.com/distribution/distribution/v3/cmd/registry", version, bin_dir, ldflags=ldflags
    )


def registry_version(output: str) -> str:
    # "registry github.com/distribution/distribution/v3 v3.1.2"
    return output.split()[2]


def build_crane(version: str, bin_dir: Path) -> None:
    # Without it, `crane version` reports only what the Go build info holds.
    ldflags = f"-X github.com/google/go-containerregistry/cmd/crane/cmd.Version={version}"
    gobuild.go_install(
        "github.com/google/go-containerregistry/cmd/crane", version, bin_dir, ldflags=ldflags
    )


def build_kubectl(version: str, bin_dir: Path) -> None:
    gobuild.build_kubernetes(["kubectl"], bin_dir, version)


TOOLS: dict[str, Tool] = {
    "kind": Tool("kind", "tools.kind", ("version",), kind_version, build_kind),
    "kubectl": Tool(
        "kubectl",
        "kubernetes.version",
        ("version", "--client", "-o", "json"),
        kubectl_version,
        build_kubectl,
    ),
    "helm": Tool(
        "helm", "tools.helm", ("version", "--template", "{{.Version}}"), str.strip, build_helm
    ),
    "registry": Tool(
        "registry", "tools.distribution", ("--version",), registry_version, build_registry
    ),
    "crane": Tool("crane", "tools.crane", ("version",), str.strip, build_crane),
}


def binary_version(tool: Tool, binary: str | Path) -> str | None:
    """The version a binary reports, or None when it cannot say."""
    try:
        return tool.parse_version(run([binary, *tool.version_command], timeout=30))
    except (RunError, ValueError, KeyError, IndexError):
        return None


@cache
def ensure(name: str) -> Path:
    """The path of a pinned tool: on PATH if its version matches, else cached, else built now."""
    tool = TOOLS[name]
    on_path = shutil.which(tool.name)
    if on_path and binary_version(tool, on_path) == tool.version:
        return Path(on_path)
    cached = tool.cached_binary()
    if cached.is_file() and binary_version(tool, cached) == tool.version:
        say(f"    {name} {tool.version}: cached ({cached})")
        return cached
    prerequisites.ensure(["go"])
    with step(f"build {name} {tool.version} with go"):
        tool.build(tool.version, cached.parent)
    found = binary_version(tool, cached)
    if found != tool.version:
        raise gobuild.GoBuildError(
            f"the {name} just built reports version {found!r}, not {tool.version}"
        )
    return cached


def main(argv: list[str]) -> int:
    names = argv or list(TOOLS)
    unknown = [name for name in names if name not in TOOLS]
    if unknown:
        print(f"unknown tool(s): {', '.join(unknown)}; known: {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    try:
        for name in names:
            print(ensure(name))
    except (RunError, gobuild.GoBuildError, prerequisites.MissingPrerequisites) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
