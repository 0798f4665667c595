"""Resolve `<name>.localhost` to the loopback in this process, as Chromium does.

Each user's server is on its own origin, `http://<user>.localhost:30080` (the dev hub's
`subdomain_host`). RFC 6761 (6.3) lets programs answer every `*.localhost` name with the loopback
and Chromium does; this host's resolver (glibc: `/etc/hosts`, DNS) knows only `localhost` itself,
so requests that the tests make outside the browser (the admin's API calls to a user's server)
would not resolve. Only names `<label>.localhost` change, and only to 127.0.0.1, where kind
maps the hub's node port; the Host header still names the user's origin, so the proxy routes the
request exactly as it routes the browser's.
"""

from __future__ import annotations

from devenv.host_names import HostRoute, resolve_in_process


def resolve_localhost_subdomains() -> None:
    """From now on this process resolves `*.localhost` to 127.0.0.1."""
    resolve_in_process([HostRoute("*.localhost")])
