"""Build Go programs from the Go module proxy into version-keyed folders of the cache.

Most programs build with `go install MODULE/CMD@VERSION`. Kubernetes cannot: its go.mod
`replace`s each staging module `k8s.io/<m>` with a folder inside the repository, and Go refuses
`go install` of a module with `replace` directives. For Kubernetes we generate a small wrapper
module that requires `k8s.io/kubernetes` and replaces each staging module with its published
`v0.X.Y` release, then build the commands inside it with the same version ldflags as the
upstream release build, so that `kubectl version` reports the pin.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from tools.bootstrap.paths import cache_dir, logs_dir
from tools.bootstrap.progress import say
from tools.bootstrap.run import RunError, run

KUBERNETES_MODULE = "k8s.io/kubernetes"
# Linker flags of the upstream release build (hack/lib/version.sh) set in both version packages.
VERSION_PACKAGES = ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")
# The upstream release builds these statically (hack/lib/golang.sh) with these tags.
KUBERNETES_BUILD_TAGS = "selinux,notest,grpcnotrace"


class GoBuildError(RuntimeError):
    """A Go build failed; the message names its log file."""


def go_env(**extra: str) -> dict[str, str]:
    """The environment of every Go build: static binaries, a writable module cache."""
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-modcacherw -buildvcs=false"}
    env.update(extra)
    return env


def run_logged(command: list[str], *, log_name: str, cwd: Path, env: dict[str, str]) -> None:
    """Run a build command at low priority, its output in a log file (RunError on failure)."""
    log = logs_dir() / log_name
    say(f"    {' '.join(command[:3])} ... (log: {log})")
    run(["nice", "-n", "10", *command], log=log, cwd=cwd, env=env)


def module_dir(module: str, version: str) -> Path:
    """Download a module from the Go module proxy and return its source folder."""
    command = ["go", "mod", "download", "-json", f"{module}@{version}"]
    try:
        info = json.loads(run(command, env=go_env(), cwd=cache_dir()))
    except RunError as error:
        # `go mod download -json` reports a failure as JSON on standard output, with status 1.
        raise GoBuildError(
            f"cannot download {module}@{version} from the Go module proxy: {error}"
        ) from error
    return Path(info["Dir"])


def go_install(package: str, version: str, bin_dir: Path, *, ldflags: str = "") -> None:
    """`go install PACKAGE@VERSION` into bin_dir (a module without `replace` directives)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    command = [
        "go",
        "install",
        "-trimpath",
        f"-ldflags=-s -w {ldflags}".strip(),
        f"{package}@{version}",
    ]
    name = package.rstrip("/").rsplit("/", 1)[-1]
    run_logged(
        command,
        log_name=f"go-install-{name}-{version}.log",
        cwd=cache_dir(),
        env=go_env(GOBIN=str(bin_dir)),
    )


# --- Kubernetes ---------------------------------------------------------------------------------


def staging_modules(kubernetes_dir: Path) -> list[str]:
    """The `k8s.io/<m>` modules that Kubernetes' go.mod replaces with folders of its own tree."""
    text = (kubernetes_dir / "go.mod").read_text()
    return sorted(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", text, flags=re.MULTILINE))


def staging_version(kubernetes_version: str) -> str:
    """Staging modules are published as v0.<minor>.<patch> for Kubernetes v1.<minor>.<patch>."""
    match = re.fullmatch(r"v1\.(\d+)\.(\d+)", kubernetes_version)
    if match is None:
        raise GoBuildError(f"kubernetes.version {kubernetes_version!r} is not of the form v1.X.Y")
    return f"v0.{match.group(1)}.{match.group(2)}"


def wrapper_go_mod(module: str, version: str, replaces: dict[str, str], go_version: str) -> str:
    """go.mod of a module that only requires MODULE@VERSION, with `replace`s by module version."""
    lines = "\n".join(f"\t{old} => {new}" for old, new in sorted(replaces.items()))
    text = f"module jupyterhub-k8s.local/build\n\ngo {go_version}\n\nrequire {module} {version}\n"
    return text + (f"\nreplace (\n{lines}\n)\n" if replaces else "")


def version_ldflags(kubernetes_version: str) -> str:
    """`-X` flags so that the binaries report the pinned version, as a release build does."""
    major, minor = re.fullmatch(r"v(\d+)\.(\d+)\.\d+", kubernetes_version).groups()  # type: ignore[union-attr]
    values = {
        "gitVersion": kubernetes_version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return " ".join(
        f"-X {package}.{key}={value}"
        for package in VERSION_PACKAGES
        for key, value in values.items()
    )


def wrapper_module(module: str, version: str, replaces: dict[str, str] | None = None) -> Path:
    """Create (once) a wrapper module requiring MODULE@VERSION and return its folder.

    Builds run in it with `-mod=mod`, so Go records the checksums of what it downloads.
    """
    name = module.replace("/", "_")
    folder = cache_dir() / "src" / f"{name}-{version}"
    go_mod = folder / "go.mod"
    if go_mod.exists():
        return folder
    source = module_dir(module, version)
    go_version = re.search(r"^go (\S+)", (source / "go.mod").read_text(), flags=re.MULTILINE)
    folder.mkdir(parents=True, exist_ok=True)
    go_mod.write_text(
        wrapper_go_mod(
            module, version, replaces or {}, go_version.group(1) if go_version else "1.22"
        )
    )
    return folder


def build_in_wrapper(
    module: str,
    version: str,
    packages: Iterable[str],
    bin_dir: Path,
    *,
    replaces: dict[str, str] | None = None,
    ldflags: str = "",
    tags: str = "",
) -> None:
    """Build main packages of MODULE@VERSION (which may have `replace`s) into bin_dir."""
    folder = wrapper_module(module, version, replaces)
    bin_dir.mkdir(parents=True, exist_ok=True)
    command = ["go", "build", "-mod=mod", "-trimpath", f"-ldflags=-s -w {ldflags}".strip()]
    if tags:
        command.append(f"-tags={tags}")
    command += ["-o", f"{bin_dir}/", *packages]
    log_name = f"build-{module.replace('/', '_')}-{version}.log"
    run_logged(command, log_name=log_name, cwd=folder, env=go_env())


def build_kubernetes(commands: Iterable[str], bin_dir: Path, kubernetes_version: str) -> None:
    """Build `k8s.io/kubernetes/cmd/<command>` for each command into bin_dir, in one go build."""
    source = module_dir(KUBERNETES_MODULE, kubernetes_version)
    published = staging_version(kubernetes_version)
    build_in_wrapper(
        KUBERNETES_MODULE,
        kubernetes_version,
        [f"{KUBERNETES_MODULE}/cmd/{command}" for command in commands],
        bin_dir,
        replaces={module: f"{module} {published}" for module in staging_modules(source)},
        ldflags=version_ldflags(kubernetes_version),
        tags=KUBERNETES_BUILD_TAGS,
    )
