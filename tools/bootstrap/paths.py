"""Where the project lives and where it keeps caches and logs."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """The project's cache folder, shared by every clone on this machine.

    Build outputs (tools, node images, JDK, Keycloak) are keyed by version inside it, so a fresh
    clone reuses what an earlier one built. `JHK8S_CACHE_DIR` overrides the location.
    """
    override = os.environ.get("JHK8S_CACHE_DIR")
    if override:
        path = Path(override)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".cache"
        path = base / "jupyterhub-k8s"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    """Log files of background processes and long steps (dockerd, builds, Keycloak)."""
    path = cache_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
