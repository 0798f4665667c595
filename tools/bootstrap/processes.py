"""Processes the project started and later finds again by their pid (dockerd, Keycloak).

Standard library only (the bootstrap runs before any dependency is installed).
"""

from __future__ import annotations

from pathlib import Path


def process_running(pid: int) -> bool:
    """Whether the process is alive: one that exited but was not reaped (a zombie) is not.

    A daemon's starter may never wait for it: the dockerd that `nox -s dev` starts is a child of
    nox, so after SIGTERM it stays in /proc as a zombie until nox exits.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    # The state follows the command name, which is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
