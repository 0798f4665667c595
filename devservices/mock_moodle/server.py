"""Serve the mock Moodle: in this process (`serve`) or as a child process (`MockMoodleProcess`)."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from mock_moodle.app import make_app
from mock_moodle.config import Config

DEFAULT_PORT = 8100
HOST = "127.0.0.1"
START_TIMEOUT_S = 30


@dataclass(frozen=True)
class ServerTls:
    """A certificate chain (PEM, the server's certificate first) and its key: serve HTTPS."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


async def serve(
    config: Config, port: int = DEFAULT_PORT, host: str = HOST, tls: ServerTls | None = None
) -> None:
    """Serve until cancelled: HTTPS with `tls`, else plain HTTP (development)."""
    scheme = "https" if tls else "http"
    app = make_app(config.for_port(port, host, scheme))
    server = app.listen(port, address=host, ssl_options=tls.server_context() if tls else None)
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
    """`python -m mock_moodle` as a child process; a context manager that waits until it answers.

    With `tls` it serves HTTPS; `check_url` (its public URL, which the caller resolves to the
    port) and `client_context` (trusting its CA) are then how readiness is checked, so that the
    check verifies the certificate as every other client does.
    """

    def __init__(
        self,
        config_file: Path,
        port: int | None = None,
        log_file: Path | None = None,
        tls: ServerTls | None = None,
        check_url: str | None = None,
        client_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config_file = config_file
        self.port = port or free_port()
        self.log_file = log_file
        self.tls = tls
        self.check_url = check_url
        self.client_context = client_context
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.check_url or f"http://{HOST}:{self.port}"

    def start(self) -> MockMoodleProcess:
        command = [*module_command(), "--config", str(self.config_file), "--port", str(self.port)]
        if self.tls:
            command += ["--tls-cert", str(self.tls.cert_file), "--tls-key", str(self.tls.key_file)]
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
                with urllib.request.urlopen(  # noqa: S310 - our own mock
                    f"{self.url}/healthz", timeout=2, context=self.client_context
                ):
                    return self
            except ssl.SSLCertVerificationError:
                self.stop()
                raise
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
