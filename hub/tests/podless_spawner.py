"""ProfileSpawner that starts no pod, for running a real hub in tests without Kubernetes.

Everything before the pod (the options check, the quota, the names) is the real ProfileSpawner;
where KubeSpawner would create a pod, this answers HTTP itself so the hub sees a running server.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hubconfig.spawner import ProfileSpawner


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class PodlessProfileSpawner(ProfileSpawner):
    """A server is an HTTP listener on loopback; start still runs KubeSpawner's first step."""

    _listener: ThreadingHTTPServer | None = None

    async def _start_pod(self) -> tuple[str, int]:
        # KubeSpawner's start begins with this gate: no checked options, no pod.
        await self.load_user_options()
        self._listener = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
        threading.Thread(target=self._listener.serve_forever, daemon=True).start()
        return "127.0.0.1", self._listener.server_address[1]

    async def poll(self) -> int | None:
        return None if self._listener else 0

    async def stop(self, now: bool = False) -> None:
        self._leave_start_queue()
        if self._listener:
            self._listener.shutdown()
            self._listener.server_close()
            self._listener = None
