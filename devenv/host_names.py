"""Host names of other sites, answered on this machine's loopback without a hosts file or DNS.

The rehearsal reaches the hub, Keycloak and the mock Moodle as `https://hub.campus.test`,
`https://login.campus.test` and `https://moodle.school.test` (port 443 in every URL, so origins
are what a campus has) while each listens on a loopback port of its own. One list of routes feeds
both clients: Chromium gets it as `--host-resolver-rules` (`chromium_rules`), Python clients in
the test process through `resolve_in_process`, which answers `getaddrinfo` for the routed names.
Names and certificates stay as they are, so TLS checks the name a browser would.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class HostRoute:
    """`name` (a `*.` prefix matches any subdomain) at `port` is served at `target_port` of
    `target_host`; `port=None` matches every port and keeps it."""

    name: str
    port: int | None = None
    target_port: int | None = None
    target_host: str = LOOPBACK

    def matches(self, host: str, port: Any) -> bool:
        if self.port is not None and str(port) != str(self.port):
            return False
        host = host.lower()
        if self.name.startswith("*."):
            # One label only, as a wildcard certificate matches: `a.b.hub.campus.test` is not.
            label, dot, rest = host.partition(".")
            return bool(label) and dot == "." and rest == self.name[2:]
        return host == self.name

    def chromium_rule(self) -> str:
        pattern = self.name if self.port is None else f"{self.name}:{self.port}"
        target = (
            self.target_host
            if self.target_port is None
            else (f"{self.target_host}:{self.target_port}")
        )
        return f"MAP {pattern} {target}"


def chromium_rules(routes: Iterable[HostRoute]) -> str:
    """The value of Chromium's `--host-resolver-rules` for `routes`."""
    return ", ".join(route.chromium_rule() for route in routes)


_system_getaddrinfo = socket.getaddrinfo


def resolve_in_process(routes: Iterable[HostRoute]) -> None:
    """From now on this process resolves the routed names (and ports) as Chromium does."""
    table = tuple(routes)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str):
            for route in table:
                if route.matches(host, port):
                    target_port = port if route.target_port is None else route.target_port
                    return _system_getaddrinfo(route.target_host, target_port, *args, **kwargs)
        return _system_getaddrinfo(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
