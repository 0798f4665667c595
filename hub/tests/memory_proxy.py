"""A proxy that keeps routes in memory, for running a real hub in tests without Node.js."""

from __future__ import annotations

from typing import Any

from jupyterhub.proxy import Proxy


class MemoryProxy(Proxy):
    """JupyterHub's Proxy API over a dict; nothing is forwarded."""

    should_start = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.routes: dict[str, dict[str, Any]] = {}

    async def add_route(self, routespec: str, target: str, data: dict[str, Any]) -> None:
        self.routes[routespec] = {"routespec": routespec, "target": target, "data": data}

    async def delete_route(self, routespec: str) -> None:
        self.routes.pop(routespec, None)

    async def get_all_routes(self) -> dict[str, dict[str, Any]]:
        return dict(self.routes)
