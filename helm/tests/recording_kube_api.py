"""A Kubernetes API over HTTP that records what each request needs of RBAC.

It serves as much of the core API of one namespace as KubeSpawner uses to start and stop labs:
pods and claims are kept in memory, a created pod runs at once, lists and watches show the
changes. Each request is recorded as the (resource, verb) pair RBAC authorizes, with the verb
named as the API server names it: GET of one object is `get`, of a collection `list`, with
`?watch=true` `watch`; POST is `create`, DELETE `delete`, PUT `update`, PATCH `patch`.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RESOURCE_PATH = re.compile(
    r"^/api/v1/namespaces/(?P<namespace>[^/]+)/(?P<resource>[a-z]+)(?:/(?P<name>[^/]+))?$"
)
WRITE_VERBS = {"POST": "create", "DELETE": "delete", "PUT": "update", "PATCH": "patch"}
KINDS = {"pods": "Pod", "persistentvolumeclaims": "PersistentVolumeClaim", "events": "Event"}
# How long a watch stays open without changes; the client then watches again.
WATCH_S = 2.0


class RecordingKubeApi:
    """The API's state and what was asked of it; `quota_reached` makes the namespace's claim
    quota full, so that creating a claim that exists is refused (403) as quota admission does."""

    def __init__(self) -> None:
        self.needed: set[tuple[str, str]] = set()
        self.quota_reached = False
        self._objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._watchers: dict[str, list[queue.Queue[dict[str, Any] | None]]] = {
            kind: [] for kind in KINDS
        }
        self._version = 0
        self._lock = threading.Lock()

    def _changed(self, resource: str, change: str, obj: dict[str, Any]) -> None:
        for watcher in self._watchers[resource]:
            watcher.put({"type": change, "object": obj})

    def _stamp(self, obj: dict[str, Any]) -> None:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        obj["metadata"].setdefault("uid", f"uid-{self._version}")

    def create(
        self, namespace: str, resource: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            name = body["metadata"]["name"]
            if name in self._objects[resource]:
                if resource == "persistentvolumeclaims" and self.quota_reached:
                    return 403, _status(403, "Forbidden", f"exceeded quota creating {name}")
                return 409, _status(409, "AlreadyExists", f"{resource} {name} already exists")
            if resource == "pods":
                ready = [
                    {
                        "name": container["name"],
                        "image": container["image"],
                        "imageID": container["image"],
                        "ready": True,
                        "restartCount": 0,
                    }
                    for container in body["spec"]["containers"]
                ]
                body["status"] = {
                    "phase": "Running",
                    "podIP": "127.0.0.1",
                    "containerStatuses": ready,
                }
            body["metadata"]["namespace"] = namespace
            self._stamp(body)
            self._objects[resource][name] = body
            self._changed(resource, "ADDED", body)
            return 201, body

    def delete(self, resource: str, name: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            obj = self._objects[resource].pop(name, None)
            if obj is None:
                return 404, _status(404, "NotFound", f"{resource} {name} not found")
            self._stamp(obj)
            self._changed(resource, "DELETED", obj)
            return 200, obj

    def read(self, resource: str, name: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if name is None:
                items = list(self._objects[resource].values())
                metadata = {"resourceVersion": str(self._version)}
                kind = f"{KINDS[resource]}List"
                return 200, {"kind": kind, "apiVersion": "v1", "metadata": metadata, "items": items}
            obj = self._objects[resource].get(name)
            if obj is None:
                return 404, _status(404, "NotFound", f"{resource} {name} not found")
            return 200, obj

    @contextmanager
    def watching(self, resource: str) -> Iterator[queue.Queue[dict[str, Any] | None]]:
        changes: queue.Queue[dict[str, Any] | None] = queue.Queue()
        with self._lock:
            self._watchers[resource].append(changes)
        try:
            yield changes
        finally:
            with self._lock:
                self._watchers[resource].remove(changes)

    def close_watches(self) -> None:
        with self._lock:
            for watchers in self._watchers.values():
                for watcher in watchers:
                    watcher.put(None)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }


def _handler(api: RecordingKubeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def log_message(self, *args: object) -> None:
            return None

        def _serve(self) -> None:
            url = urlsplit(self.path)
            match = RESOURCE_PATH.match(url.path)
            if not match or match["resource"] not in KINDS:
                self._answer(404, _status(404, "NotFound", f"{url.path} is not served here"))
                return
            resource, name = match["resource"], match["name"]
            watch = parse_qs(url.query).get("watch", ["false"])[0].lower() in ("true", "1")
            verb = WRITE_VERBS.get(self.command) or (
                "watch" if watch else "get" if name else "list"
            )
            api.needed.add((resource, verb))
            if verb == "watch":
                self._watch(resource)
            elif verb == "list" or verb == "get":
                self._answer(*api.read(resource, name))
            elif verb == "create":
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                self._answer(*api.create(match["namespace"], resource, body))
            elif verb == "delete":
                self._answer(*api.delete(resource, name))
            else:
                self._answer(405, _status(405, "MethodNotAllowed", f"{verb} is not served here"))

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _watch(self, resource: str) -> None:
            # HTTP/1.0 without a length: the stream of changes ends when the connection closes.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            with api.watching(resource) as changes:
                while True:
                    try:
                        change = changes.get(timeout=WATCH_S)
                    except queue.Empty:
                        return
                    if change is None:
                        return
                    self.wfile.write(json.dumps(change).encode() + b"\n")
                    self.wfile.flush()

    return Handler


@contextmanager
def serving() -> Iterator[tuple[str, RecordingKubeApi]]:
    """The API's URL and state while it serves on a free loopback port."""
    api = RecordingKubeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", api
    finally:
        api.close_watches()
        server.shutdown()
        server.server_close()
