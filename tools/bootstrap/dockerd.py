"""The Docker daemon: start it, give it a Debian base image, and make privileged containers work.

kind's nodes are privileged containers. On hosts whose capability bounding set lacks some
capability (CAP_SYS_RESOURCE on our build machines), Debian's Docker 20.10 asks for every known
capability on `--privileged` and fails with "unable to apply caps". Where the project runs dockerd
itself, it then registers `runc_capfilter` as the default OCI runtime (see that module).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.bootstrap import versions
from tools.bootstrap.apt import apt_install
from tools.bootstrap.paths import cache_dir, logs_dir
from tools.bootstrap.processes import process_running
from tools.bootstrap.progress import say
from tools.bootstrap.run import RunError, run, succeeds

DAEMON_JSON = Path("/etc/docker/daemon.json")
DOCKERD_PIDFILE = Path("/var/run/docker.pid")
CAPFILTER_RUNTIME = "capfilter"
CAPFILTER_INSTALL_PATH = Path("/usr/local/libexec/jupyterhub-k8s/runc-capfilter")
DAEMON_START_TIMEOUT_S = 90
DAEMON_STOP_TIMEOUT_S = 60


class DockerError(RuntimeError):
    """Docker could not be started or made to run what the project needs."""


def daemon_running() -> bool:
    return succeeds(["docker", "info"], timeout=20)


def dockerd_log() -> Path:
    return logs_dir() / "dockerd.log"


def managed_marker() -> Path:
    """Present while the running dockerd is one this project started."""
    return cache_dir() / "dockerd.managed"


def start_daemon() -> None:
    """Start dockerd in the background, logging to the cache folder, and wait until it answers."""
    if daemon_running():
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise DockerError("dockerd is not installed (Debian: apt-get install docker.io)")
    say(f"    starting dockerd (log: {dockerd_log()})")
    with dockerd_log().open("ab") as log:
        subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    managed_marker().write_text("started by tools.bootstrap.dockerd\n")
    deadline = time.monotonic() + DAEMON_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if daemon_running():
            return
        time.sleep(1)
    tail = "\n".join(dockerd_log().read_text(errors="replace").splitlines()[-15:])
    raise DockerError(f"dockerd did not answer within {DAEMON_START_TIMEOUT_S} s; log:\n{tail}")


def stop_managed_daemon() -> None:
    """Stop the dockerd this project started (to apply a new daemon.json)."""
    if not DOCKERD_PIDFILE.exists():
        return
    pid = int(DOCKERD_PIDFILE.read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DAEMON_STOP_TIMEOUT_S
    while process_running(pid):
        if time.monotonic() > deadline:
            raise DockerError(
                f"dockerd (pid {pid}) still runs {DAEMON_STOP_TIMEOUT_S} s after SIGTERM"
            )
        time.sleep(0.5)


# --- The Debian base image ----------------------------------------------------------------------


def base_image() -> str:
    """The upstream name of our base image; built locally under that name when offline."""
    return f"debian:{versions.get('debian.suite')}-slim"


def ensure_base_image() -> str:
    """Make `debian:<suite>-slim` available: present, pulled, or debootstrapped and imported."""
    name = base_image()
    if succeeds(["docker", "image", "inspect", name]) or succeeds(
        ["docker", "pull", name], timeout=120
    ):
        return name
    say(f"    {name} cannot be pulled here; building it with debootstrap")
    if shutil.which("debootstrap") is None:
        apt_install("debootstrap")
    suite = versions.get("debian.suite")
    with tempfile.TemporaryDirectory(prefix="debootstrap-") as scratch:
        root, archive = Path(scratch) / "root", Path(scratch) / "root.tar"
        run(["debootstrap", "--variant=minbase", suite, root], log=logs_dir() / "debootstrap.log")
        run(["tar", "-C", root, "-cf", archive, "."])
        run(["docker", "import", "--change", 'CMD ["bash"]', archive, name])
    return name


# --- Privileged containers ----------------------------------------------------------------------


def privileged_problem() -> str | None:
    """None when `docker run --privileged` works, otherwise Docker's error message."""
    try:
        run(["docker", "run", "--rm", "--privileged", ensure_base_image(), "true"])
    except RunError as error:
        return error.output_tail
    return None


def install_capfilter_runtime() -> None:
    """Register the capability-filtering runc wrapper as dockerd's default runtime."""
    source = Path(__file__).with_name("runc_capfilter.py").read_text()
    CAPFILTER_INSTALL_PATH.parent.mkdir(parents=True, exist_ok=True)
    CAPFILTER_INSTALL_PATH.write_text(f"#!{sys.executable}\n{source}")
    CAPFILTER_INSTALL_PATH.chmod(0o755)
    config = json.loads(DAEMON_JSON.read_text()) if DAEMON_JSON.exists() else {}
    config.setdefault("runtimes", {})[CAPFILTER_RUNTIME] = {"path": str(CAPFILTER_INSTALL_PATH)}
    config["default-runtime"] = CAPFILTER_RUNTIME
    DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
    DAEMON_JSON.write_text(json.dumps(config, indent=2) + "\n")


def ensure_privileged_containers() -> None:
    """Make privileged containers (kind's nodes) run, applying the capability filter if needed."""
    problem = privileged_problem()
    if problem is None:
        return
    if "apply caps" not in problem:
        raise DockerError(f"privileged containers fail here: {problem}")
    if not managed_marker().exists():
        raise DockerError(
            "privileged containers fail with 'unable to apply caps' and this dockerd is not run "
            "by the project; register tools/bootstrap/runc_capfilter.py as its default runtime "
            f"(see {Path(__file__).name}) or start Docker through `nox -s dev`."
        )
    say("    privileged containers fail here; installing the capability-filter runtime")
    install_capfilter_runtime()
    stop_managed_daemon()
    start_daemon()
    problem = privileged_problem()
    if problem is not None:
        raise DockerError(f"privileged containers still fail with the filter: {problem}")
