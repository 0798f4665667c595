"""Debian packages: whether this process may install them, and installing them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tools.bootstrap.progress import say
from tools.bootstrap.run import RunError, run

# Another apt (a second session's install, unattended-upgrades) may hold dpkg's lock for a while:
# wait for it rather than fail the bring-up.
LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=600"]


def can_install() -> bool:
    """True where this process may install system packages: root on Debian with apt."""
    return (
        hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("apt-get") is not None
        and Path("/etc/debian_version").exists()
    )


def apt_install(*packages: str) -> None:
    """Install Debian packages non-interactively, refreshing the package lists once if needed."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"    installing with apt: {' '.join(packages)}")
    command = ["apt-get", *LOCK_WAIT, "install", "-y", "-q", "--no-install-recommends", *packages]
    try:
        run(command, env=env)
    except RunError:
        run(["apt-get", *LOCK_WAIT, "update", "-q"], env=env)
        run(command, env=env)
