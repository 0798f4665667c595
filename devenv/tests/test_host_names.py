"""Routed host names: what Chromium is told, and what this process resolves."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from devenv import host_names
from devenv.host_names import HostRoute

ROUTES = [
    HostRoute("hub.campus.test", 443, 18443),
    HostRoute("*.hub.campus.test", 443, 18443),
    HostRoute("login.campus.test", 443, 18444),
]


@pytest.fixture
def routed() -> Iterator[None]:
    saved = socket.getaddrinfo
    host_names.resolve_in_process(ROUTES)
    yield
    socket.getaddrinfo = saved


def test_chromium_rules_map_each_name_and_port_to_its_loopback_port() -> None:
    assert host_names.chromium_rules(ROUTES) == (
        "MAP hub.campus.test:443 127.0.0.1:18443, MAP *.hub.campus.test:443 127.0.0.1:18443, "
        "MAP login.campus.test:443 127.0.0.1:18444"
    )


def test_a_route_without_ports_maps_the_name_only() -> None:
    assert HostRoute("*.localhost").chromium_rule() == "MAP *.localhost 127.0.0.1"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("hub.campus.test", 443, ("127.0.0.1", 18443)),
        ("HUB.campus.test", "443", ("127.0.0.1", 18443)),
        ("alice.hub.campus.test", 443, ("127.0.0.1", 18443)),
        ("login.campus.test", 443, ("127.0.0.1", 18444)),
    ],
)
def test_routed_names_resolve_to_their_loopback_port(
    routed: None, host: str, port: object, expected: tuple[str, int]
) -> None:
    infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
    assert {info[4] for info in infos} == {expected}


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("hub.campus.test", 80),
        ("a.b.hub.campus.test", 443),
        ("evilhub.campus.test", 443),
        ("hub.campus.test.evil.test", 443),
    ],
)
def test_other_names_and_ports_are_not_routed(routed: None, host: str, port: int) -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)


def test_a_portless_route_keeps_the_port() -> None:
    saved = socket.getaddrinfo
    host_names.resolve_in_process([HostRoute("*.localhost")])
    try:
        infos = socket.getaddrinfo("alice.localhost", 30080, socket.AF_INET, socket.SOCK_STREAM)
    finally:
        socket.getaddrinfo = saved
    assert {info[4] for info in infos} == {("127.0.0.1", 30080)}
