"""A start returns once the lab server listens, found by short even connection attempts."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    chart_values_fixture,
    hub_user,
    make_spawner,
    offline_kubeconfig_fixture,
)
from kubespawner import KubeSpawner

from hubconfig import server_listen
from hubconfig.spawner import ProfileSpawner

pytestmark = pytest.mark.usefixtures("offline_kubeconfig")


def free_port() -> int:
    """A loopback port that nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LateServer:
    """Listens on `port` from `after_s` seconds on, and counts the connections it accepts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted = 0
        self.server: asyncio.Server | None = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()

    async def listen_after(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def late_server() -> Any:
    server = LateServer(free_port())
    yield server
    server.close()


def test_the_address_is_read_from_a_url_or_an_ip_and_port() -> None:
    assert server_listen.address("http://10.244.1.5:8888") == ("10.244.1.5", 8888)
    assert server_listen.address("https://lab.example.org") == ("lab.example.org", 443)
    assert server_listen.address(("10.0.0.7", 8888)) == ("10.0.0.7", 8888)
    with pytest.raises(ValueError, match="no host"):
        server_listen.address("/user/ann/")


async def test_the_wait_ends_when_the_server_listens(late_server: LateServer) -> None:
    opening = asyncio.ensure_future(late_server.listen_after(0.3))
    assert await server_listen.wait_until_listening(("127.0.0.1", late_server.port), 0.02, 10)
    assert opening.done()
    # Let the server's handler run: the successful attempt is the connection it accepted.
    await asyncio.sleep(0.05)
    assert late_server.accepted == 1


async def test_the_wait_gives_up_after_its_timeout() -> None:
    assert not await server_listen.wait_until_listening(("127.0.0.1", free_port()), 0.02, 0.2)


def kube_start_returning(url: str) -> Any:
    async def kube_start(self: ProfileSpawner) -> str:
        return url

    return kube_start


@pytest.fixture
async def lab(chart_values: dict) -> ProfileSpawner:
    """A spawner whose KubeSpawner start finds the pod running at once, without a grace watch."""
    spawner = make_spawner(chart_values, hub_user("lena", []))
    spawner.unschedulable_timeout = 0
    spawner.listen_poll_interval = 0.02
    return spawner


async def test_the_start_returns_once_the_server_listens(
    lab: ProfileSpawner, late_server: LateServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{late_server.port}"
    monkeypatch.setattr(KubeSpawner, "_start", kube_start_returning(url))
    opening = asyncio.ensure_future(late_server.listen_after(0.3))
    assert await lab._start() == url
    assert opening.done() and late_server.server is not None


async def test_a_server_that_never_listens_fails_with_the_hubs_words(
    lab: ProfileSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(KubeSpawner, "_start", kube_start_returning(url))
    lab.http_timeout = 1
    with pytest.raises(TimeoutError, match=f"Server at {url} didn't respond in 1 seconds"):
        await lab._start()


async def test_no_interval_returns_once_the_pod_runs(
    lab: ProfileSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(KubeSpawner, "_start", kube_start_returning(url))
    lab.listen_poll_interval = 0
    lab.http_timeout = 30
    assert await asyncio.wait_for(lab._start(), 5) == url
