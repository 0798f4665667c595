"""Serve the mock Moodle: in this process (`serve`) or as a child process (`MockMoodleProcess`)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from mock_moodle.app import make_app
from mock_moodle.config import Config

DEFAULT_PORT = 8100
HOST = "127.0.0.1"
START_TIMEOUT_S = 30


async def serve(config: Config, port: int = DEFAULT_PORT, host: str = HOST) -> None:
    """Serve until cancelled."""
    app = make_app(config.for_port(port, host))
    server = app.listen(port, address=host)
    try:
        await asyncio.Event().wait()
    finally:
        server.stop()


def free_port(host: str = HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def module_command() -> list[str]:
    """`python -m mock_moodle`, with this interpreter."""
    return [sys.executable, "-m", "mock_moodle"]


def module_environment() -> dict[str, str]:
    """This process's environment with the folder holding this package first on PYTHONPATH, so
    that `python -m mock_moodle` finds it wherever the caller imported it from (it is not
    installed: the repo keeps it in devservices/)."""
    package_parent = str(Path(__file__).resolve().parents[1])
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])),
    }


class MockMoodleProcess:
    """`python -m mock_moodle` as a child process; a context manager that waits until it answers."""

    def __init__(
        self, config_file: Path, port: int | None = None, log_file: Path | None = None
    ) -> None:
        self.config_file = config_file
        self.port = port or free_port()
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> MockMoodleProcess:
        command = [*module_command(), "--config", str(self.config_file), "--port", str(self.port)]
        output = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=module_environment()
            )
        finally:
            if self.log_file:
                output.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mock Moodle exited with {self.process.returncode}"
                    + (f"; log: {self.log_file}" if self.log_file else "")
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mock Moodle did not answer on {self.url} within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> MockMoodleProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
