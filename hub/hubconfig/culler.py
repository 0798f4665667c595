"""jupyterhub-idle-culler as a hub-managed service, with the role it needs."""

from __future__ import annotations

import sys
from typing import Any

SERVICE_NAME = "idle-culler"


def culler_service(cull: dict[str, Any], hub_api_url: str) -> dict[str, Any]:
    """The `JupyterHub.services` entry that runs the culler with `cull.*` settings.

    `hub_api_url` is the hub's API on its own pod: the culler runs beside the hub, so it need not
    resolve the hub's Service or pass a NetworkPolicy to reach it.
    """
    command = [
        sys.executable,
        "-m",
        "jupyterhub_idle_culler",
        f"--url={hub_api_url}",
        f"--timeout={cull['timeout']}",
        f"--cull-every={cull['every']}",
        f"--concurrency={cull['concurrency']}",
        f"--cull-admin-users={cull['adminUsers']}",
        f"--cull-users={cull['users']}",
        f"--remove-named-servers={cull['removeNamedServers']}",
    ]
    if cull["maxAge"]:
        command.append(f"--max-age={cull['maxAge']}")
    return {"name": SERVICE_NAME, "command": command}


def culler_role(cull: dict[str, Any]) -> dict[str, Any]:
    """The least the culler needs: see activity, stop servers, and delete users if asked to."""
    scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    if cull["users"]:
        scopes.append("admin:users")
    return {"name": SERVICE_NAME, "scopes": scopes, "services": [SERVICE_NAME]}
