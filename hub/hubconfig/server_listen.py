"""Wait, at a short even interval, until a just-started lab server listens on its port.

JupyterHub waits for a server that `Spawner.start` returned with `exponential_backoff`: sleeps
drawn from 0-0.2 s, 0-0.4 s, ... up to 0-5 s (jupyterhub/jupyterhub#1223, which chose it to
spare busy hubs many outstanding probes). KubeSpawner's start returns once the pod runs, about
when the container starts, and the lab server listens one to several seconds later: by then the
hub's sleeps have grown, and it saw the server 1 s late at the median and up to 4 s late on the
dev cluster (helm/README.md, "Spawn latency"). A TCP connection attempt every 0.1 s is answered
at once (refused) while the pod's port is closed, so each costs the hub one socket; the hub's
own HTTP check then succeeds at its first try.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

# One attempt's limit: the pod's address answers a refusal at once; this bounds a lost packet.
CONNECT_TIMEOUT_S = 1.0


def address(started: str | tuple[str, int]) -> tuple[str, int]:
    """The host and port of what `Spawner.start` returns: a URL, or (ip, port) as JupyterHub
    also accepts."""
    if isinstance(started, tuple):
        return started
    parts = urlsplit(started)
    if parts.hostname is None:
        raise ValueError(f"no host in the server URL {started!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def listens(host: str, port: int) -> bool:
    """Whether a TCP connection to host:port is accepted now."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def wait_until_listening(
    started: str | tuple[str, int], interval_s: float, timeout_s: float
) -> bool:
    """Try to connect every `interval_s` until the server listens (True) or `timeout_s` has
    passed (False: the hub's own wait for the server then decides, with its message)."""
    host, port = address(started)
    deadline = time.monotonic() + timeout_s
    while not await listens(host, port):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval_s)
    return True
