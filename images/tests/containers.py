"""Running images in containers for the smoke tests."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tools import docker
from tools.images import lock


def built(name: str) -> str:
    """The `repository:tag` of image `name`, as locked; fails when it is not built."""
    entry = lock.read().get(name)
    build = f"python -m tools.images build {name}"
    if entry is None:
        pytest.fail(f"{name} is not in images/images.lock.json; run `{build}`")
    if docker.image_id(entry.reference) != entry.image_id:
        pytest.fail(f"{entry.reference} is not the locked image in Docker; run `{build}`")
    return entry.reference


def docker_run(
    image: str, *command: str, entrypoint: str | None = None, network: str | None = None
) -> str:
    """Run a command in a fresh container (on `network`, if given) and return its output; fail
    with it on non-zero."""
    args = ["docker", "run", "--rm"]
    if entrypoint is not None:
        args += ["--entrypoint", entrypoint]
    if network is not None:
        args += ["--network", network]
    result = subprocess.run(
        [*args, image, *command], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


class Container:
    """A detached container with its ports published on localhost."""

    def __init__(self, container_id: str) -> None:
        self.id = container_id

    def port(self, container_port: int) -> int:
        output = subprocess.run(
            ["docker", "port", self.id, str(container_port)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(output.split()[0].rsplit(":", 1)[1])

    def logs(self) -> str:
        result = subprocess.run(["docker", "logs", self.id], capture_output=True, text=True)
        return result.stdout + result.stderr

    def wait_for_http(self, container_port: int, path: str, timeout: float = 60) -> bytes:
        """The body of the first 200 answer to GET path; fails with the logs after timeout."""
        url = f"http://127.0.0.1:{self.port(container_port)}{path}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.read()
            except (TimeoutError, urllib.error.URLError, ConnectionError):
                time.sleep(1)
        pytest.fail(f"{url} did not answer within {timeout:.0f} s; logs:\n{self.logs()[-3000:]}")

    def post(self, container_port: int, path: str, body: dict) -> dict:
        """POST JSON to a published port; the JSON answer."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port(container_port)}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - localhost
            return json.load(response)

    def get(self, container_port: int, path: str, token: str | None = None) -> tuple[int, bytes]:
        """GET a published port (with `Authorization: token ...` when given): status and body,
        error statuses included."""
        headers = {"Authorization": f"token {token}"} if token else {}
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port(container_port)}{path}", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - localhost
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_for_exec(self, *command: str, timeout: float = 60) -> str:
        """The output of the first successful `docker exec` of command; fails after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = subprocess.run(
                ["docker", "exec", self.id, *command], capture_output=True, text=True, check=False
            )
            if result.returncode == 0:
                return result.stdout
            if time.monotonic() > deadline:
                logs = self.logs()[-3000:]
                pytest.fail(f"{command} kept failing: {result.stderr}\nlogs:\n{logs}")
            time.sleep(1)

    def health(self) -> str:
        return subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Health.Status}}", self.id],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()


def python_json(image: str, code: str, *args: str, network: str | None = None) -> dict:
    """Run Python code (with `args` as its argv) in the image that prints one JSON object, on
    `network` if given; return it."""
    output = docker_run(image, "python3", "-c", code, *args, network=network)
    return json.loads(output.strip().splitlines()[-1])
