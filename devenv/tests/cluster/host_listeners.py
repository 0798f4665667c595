"""TCP listeners on this machine's side of the kind network, for egress tests.

A pod's traffic to an address outside the cluster leaves its node through the kind network's
bridge on this host. Giving the bridge an extra address (a metadata or carrier-grade NAT address)
makes that address this machine's own for the test, so a connection to it never leaves the host.
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from tools.docker import docker

KIND_NETWORK = "kind"
GREETING = b"hello from the host\n"


class _Greeter(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(GREETING)


class _Server(socketserver.ThreadingTCPServer):
    # The server closes first, so a rerun finds its last connections in TIME_WAIT.
    allow_reuse_address = True


def kind_bridge() -> str:
    """The interface name of the kind docker network's bridge on this host."""
    (network,) = json.loads(docker("network", "inspect", KIND_NETWORK))
    return network["Options"].get("com.docker.network.bridge.name") or f"br-{network['Id'][:12]}"


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
    server = _Server((address, port), _Greeter)
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
    interface = kind_bridge()
    with ExitStack() as stack:
        for address in extra_addresses:
            stack.enter_context(address_on(interface, address))
        for address, port in targets:
            stack.enter_context(greeter(address, port))
        yield
