"""The pre-puller hook's awaiter waits for its DaemonSets through the API, as the Job runs it."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hubconfig.image_awaiter import AwaiterError, await_pullers, pulled_everywhere

NAMESPACE = "teaching"


def daemon_set(generation: int, observed: int, desired: int, updated: int, ready: int) -> dict:
    status = {
        "observedGeneration": observed,
        "desiredNumberScheduled": desired,
        "updatedNumberScheduled": updated,
        "numberReady": ready,
    }
    # The controller leaves out counts that are 0.
    return {
        "metadata": {"generation": generation},
        "status": {key: value for key, value in status.items() if value},
    }


@pytest.mark.parametrize(
    ("state", "done"),
    [
        (daemon_set(1, 0, 0, 0, 0), False),  # not yet counted by the controller
        (daemon_set(1, 1, 2, 2, 1), False),  # one node still pulling
        (daemon_set(2, 1, 2, 2, 2), False),  # ready, but the old generation
        (daemon_set(1, 1, 2, 1, 2), False),  # one pod still of the old template
        (daemon_set(1, 1, 2, 2, 2), True),
        (daemon_set(1, 1, 0, 0, 0), True),  # no node to pull on (no GPU nodes yet)
    ],
)
def test_pulled_everywhere_needs_every_current_pod_ready(state: dict, done: bool) -> None:
    assert pulled_everywhere(state) is done


class FakeApi:
    """DaemonSets whose status advances one step per read (a number: that HTTP error), served
    over HTTP."""

    def __init__(self, steps: dict[str, list[dict[str, Any] | int]]) -> None:
        self.steps = steps
        self.paths: list[str] = []


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[http.server.HTTPServer] = []

    def start(api: FakeApi) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.paths.append(self.path)
                prefix = f"/apis/apps/v1/namespaces/{NAMESPACE}/daemonsets/"
                name = self.path.removeprefix(prefix)
                if not self.path.startswith(prefix) or name not in api.steps:
                    self.send_response(404)
                    self.end_headers()
                    return
                steps = api.steps[name]
                body = steps.pop(0) if len(steps) > 1 else steps[0]
                if isinstance(body, int):
                    self.send_response(body)
                    self.end_headers()
                    return
                self.send_response(200)
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            def log_message(self, *args: object) -> None:
                return None

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_waits_until_every_puller_has_pulled_everywhere(serve: Any) -> None:
    api = FakeApi(
        {
            "puller-cpu": [daemon_set(1, 0, 0, 0, 0), daemon_set(1, 1, 1, 1, 1)],
            "puller-gpu": [
                daemon_set(1, 1, 2, 2, 0),
                daemon_set(1, 1, 2, 2, 1),
                daemon_set(1, 1, 2, 2, 1),
                daemon_set(1, 1, 2, 2, 2),
            ],
        }
    )
    url = serve(api)
    sleeps: list[float] = []
    lines: list[str] = []
    await_pullers(
        url, NAMESPACE, ["puller-cpu", "puller-gpu"], sleep=sleeps.append, report=lines.append
    )
    gpu_reads = [path for path in api.paths if path.endswith("/puller-gpu")]
    assert len(gpu_reads) == 4
    assert len(sleeps) == 3
    assert "puller-gpu: 0 of 2 nodes have pulled" in lines
    assert lines[-1] == "puller-gpu: 2 of 2 nodes have pulled: done"
    assert "puller-cpu: 1 of 1 nodes have pulled: done" in lines


def test_a_puller_the_api_does_not_show_stops_the_hook(serve: Any) -> None:
    url = serve(FakeApi({}))
    with pytest.raises(AwaiterError, match="answers 404 for DaemonSet teaching/puller-cpu"):
        await_pullers(url, NAMESPACE, ["puller-cpu"], sleep=lambda _: None, report=print)


def test_an_api_that_fails_for_a_while_is_waited_for(serve: Any) -> None:
    url = serve(FakeApi({"puller-cpu": [503, daemon_set(1, 1, 1, 1, 1)]}))
    lines: list[str] = []
    await_pullers(url, NAMESPACE, ["puller-cpu"], sleep=lambda _: None, report=lines.append)
    assert lines == [
        "puller-cpu: the API did not answer (the API answers 503)",
        "puller-cpu: 1 of 1 nodes have pulled: done",
    ]
