"""The hub waits for the Kubernetes API before KubeSpawner's one and only first pod list."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from hubconfig import kube_api
from hubconfig.kube_api import (
    REPORT_EVERY_S,
    RETRY_S,
    kubernetes_api_url,
    version_probe,
    wait_for_kubernetes_api,
    wait_until_answering,
)


class FakeClock:
    """time.monotonic and time.sleep for a wait that must not take real seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def failing(times: int, clock: FakeClock) -> tuple[list[float], object]:
    """A probe refused `times` times, then answering; records when it was called."""
    calls: list[float] = []

    def probe() -> None:
        calls.append(clock.now)
        if len(calls) <= times:
            raise ConnectionRefusedError(111, "Connection refused")

    return calls, probe


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        (
            {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
            "https://10.96.0.1:443",
        ),
        (
            {"KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "6443"},
            "https://[fd00:10:96::1]:6443",
        ),
        ({}, None),
    ],
)
def test_api_url_comes_from_the_pod_environment(environ: dict[str, str], url: str | None):
    assert kubernetes_api_url(environ) == url


@pytest.mark.parametrize(
    ("environ", "waits"),
    [
        ({}, []),
        (
            {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
            [("https://10.96.0.1:443", "the Kubernetes API at https://10.96.0.1:443")],
        ),
    ],
)
def test_only_a_pod_waits_for_its_api(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], waits: list[tuple[str, str]]
):
    # The probe stands for its URL: outside a pod there are no service account credentials.
    monkeypatch.setattr(kube_api, "version_probe", lambda api_url: api_url)
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(kube_api, "wait_until_answering", lambda *call: seen.append(call))
    wait_for_kubernetes_api(environ)
    assert seen == waits


def test_waits_through_refusals_and_reports_progress():
    clock = FakeClock()
    calls, probe = failing(times=12, clock=clock)
    lines: list[str] = []

    wait_until_answering(
        probe, "the API", wait_s=60, clock=clock, sleep=clock.sleep, report=lines.append
    )

    assert len(calls) == 13
    assert clock.now == 12 * RETRY_S
    waiting = [line for line in lines if "waiting for the API" in line]
    assert len(waiting) == int(12 * RETRY_S // REPORT_EVERY_S) + 1
    assert "Connection refused" in waiting[0]
    assert lines[-1] == f"jupyterhub-k8s: the API answers after {12 * RETRY_S:.0f} s"


def test_an_api_answering_at_once_is_silent():
    clock = FakeClock()
    lines: list[str] = []

    wait_until_answering(
        failing(0, clock)[1], "the API", clock=clock, sleep=clock.sleep, report=lines.append
    )

    assert lines == []


def test_gives_up_with_the_reason_after_the_deadline():
    clock = FakeClock()
    _, probe = failing(times=1000, clock=clock)

    with pytest.raises(SystemExit) as stopped:
        wait_until_answering(
            probe, "the API", wait_s=30, clock=clock, sleep=clock.sleep, report=lambda _: None
        )

    message = str(stopped.value)
    assert "the API did not answer within 30 s" in message
    assert "Connection refused" in message
    assert clock.now == 30


@pytest.fixture
def version_server() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """An API answering /version, and the (path, Authorization header) of each request."""
    requests: list[tuple[str, str | None]] = []

    class Version(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append((self.path, self.headers.get("Authorization")))
            self.send_response(200 if self.path == "/version" else 404)
            self.end_headers()
            self.wfile.write(b'{"major": "1", "minor": "34"}')

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def test_version_probe_asks_for_the_version_without_credentials_over_http(
    version_server: tuple[str, list[tuple[str, str | None]]],
):
    url, requests = version_server
    probe = version_probe(url)
    probe()
    probe()
    assert requests == [("/version", None), ("/version", None)]


def test_version_probe_raises_oserror_while_nothing_listens():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]

    with pytest.raises(OSError):
        version_probe(f"http://127.0.0.1:{closed_port}")()
