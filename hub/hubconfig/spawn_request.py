"""Tell a spawn request that gives options apart from one where JupyterHub reuses stored ones.

JupyterHub stores the options of every spawn that gives them and passes them again to any later
spawn that gives none, so `apply_user_options` receives the same dict either way. Only the
request that started the spawn says whether its user chose those options now.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.apihandlers.base import APIHandler

# Query arguments JupyterHub's spawn page keeps for itself; any other one is a server option.
SPAWN_PAGE_ARGUMENTS = frozenset({"next", "display_name"})


def gives_options(handler: Any) -> bool:
    """Whether the request behind this spawn gave options: form, query arguments or REST body.

    A spawn without a request (called from the hub itself) counts as giving its options, so
    they are checked as they are.
    """
    if handler is None:
        return True
    if isinstance(handler, APIHandler):
        return handler.get_server_json_body()["user_options"] is not None
    if handler.request.method == "POST":
        return True
    return any(key not in SPAWN_PAGE_ARGUMENTS for key in handler.request.query_arguments)
