"""An OCI registry on this machine: CNCF Distribution's `registry`, built by `tools.binaries`.

One configuration (`config()`) serves both ways it runs: as a host process on a loopback port
(`serve()`, for tests of the release tooling), and as the container the kind nodes pull from.
Storage is a folder; the registry accepts plain HTTP, which Docker, Helm and containerd allow
for loopback addresses and for the registries a node's containerd configuration names.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools import binaries
from tools.bootstrap.paths import logs_dir

READY_WAIT_S = 30


class RegistryNotReady(RuntimeError):
    """The registry did not answer on /v2/ in time; the message names its log."""


def config(root_directory: str, address: str) -> str:
    """The registry's configuration file: filesystem storage, deletes allowed (a re-release of
    identical content replaces nothing, but tests clean up), no authentication."""
    return json.dumps(
        {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": root_directory},
                "delete": {"enabled": True},
            },
            "http": {"addr": address, "headers": {"X-Content-Type-Options": ["nosniff"]}},
        },
        indent=2,
    )


def answers(endpoint: str) -> bool:
    """True when the registry at `host:port` answers the OCI distribution API's base URL."""
    try:
        with urllib.request.urlopen(f"http://{endpoint}/v2/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_until_answers(endpoint: str, log: Path) -> None:
    deadline = time.monotonic() + READY_WAIT_S
    while not answers(endpoint):
        if time.monotonic() > deadline:
            raise RegistryNotReady(
                f"no registry answers at {endpoint} after {READY_WAIT_S} s; see {log}"
            )
        time.sleep(0.2)


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(storage: Path) -> Iterator[str]:
    """A registry as a host process on a free loopback port, storing in `storage`; yields its
    `127.0.0.1:<port>` endpoint and stops it on exit."""
    storage.mkdir(parents=True, exist_ok=True)
    endpoint = f"127.0.0.1:{free_loopback_port()}"
    config_file = storage / "config.json"
    config_file.write_text(config(str(storage / "data"), endpoint))
    log = logs_dir() / f"registry-{endpoint.replace(':', '-')}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(binaries.ensure("registry")), "serve", str(config_file)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answers(endpoint, log)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
