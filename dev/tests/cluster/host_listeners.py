"""TCP listeners on this machine's side of the kind network, for egress tests.

A pod's traffic to an address outside the cluster leaves its node through the kind network's
bridge on this host. Giving the bridge an extra address (a metadata or carrier-grade NAT address)
makes that address this machine's own for the test, so a connection to it never leaves the host.
The bridge's gateway address stands in for "a server outside the cluster".
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from devenv.docker import docker

KIND_NETWORK = "kind"
GREETING = b"hello from the host\n"


class _Greeter(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(GREETING)


def kind_bridge() -> tuple[str, str]:
    """(interface name, IPv4 gateway address) of the kind docker network's bridge."""
    (network,) = json.loads(docker("network", "inspect", KIND_NETWORK))
    interface = network["Options"].get("com.docker.network.bridge.name") or (
        f"br-{network['Id'][:12]}"
    )
    gateways = [c["Gateway"] for c in network["IPAM"]["Config"] if ":" not in c.get("Gateway", ":")]
    assert gateways, f"the {KIND_NETWORK} network has no IPv4 gateway: {network['IPAM']}"
    return interface, gateways[0]


@contextmanager
def address_on(interface: str, address: str) -> Iterator[None]:
    """`address`/32 on `interface` while the block runs (needs root)."""

    def ip_addr(verb: str) -> None:
        command = ["ip", "addr", verb, f"{address}/32", "dev", interface]
        subprocess.run(command, check=True, capture_output=True)

    ip_addr("add")
    try:
        yield
    finally:
        ip_addr("del")


@contextmanager
def greeter(address: str, port: int) -> Iterator[None]:
    """A TCP server at address:port that sends GREETING to whoever connects."""
    server = socketserver.ThreadingTCPServer((address, port), _Greeter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def listening(targets: list[tuple[str, int]], extra_addresses: list[str]) -> Iterator[None]:
    """Greeters at every (address, port) of `targets`, after adding `extra_addresses` to the
    kind bridge; everything removed afterwards."""
    interface, _ = kind_bridge()
    with ExitStack() as stack:
        for address in extra_addresses:
            stack.enter_context(address_on(interface, address))
        for address, port in targets:
            stack.enter_context(greeter(address, port))
        yield
