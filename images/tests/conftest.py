"""Smoke tests of built images with `docker run`; `--images NAME,...` picks which ones.

By default the default images of images.toml are tested. A test of an image that is not built
fails with the command that builds it; tests of images not picked are deselected, not skipped.
A name that images.toml does not know stops the run before any test.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest
from containers import Container, built

from tools.images import spec


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--images",
        default=None,
        help="comma-separated image names, `all`, or `default` (the default: the default images)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "image(name): a smoke test of the image `name`")


def picked(config: pytest.Config) -> list[str]:
    """The images `--images` names; a name images.toml does not know is a usage error, since
    it would otherwise deselect that image's tests and let the run pass without them."""
    option = config.getoption("--images")
    specs = spec.load()
    if not option or option in ("all", "default"):
        return spec.select(specs, [], everything=option == "all")
    names = option.split(",")
    unknown = [name for name in names if name not in specs]
    if unknown:
        raise pytest.UsageError(
            f"--images names no image called {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(specs)} (or `all`, `default`)"
        )
    return names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    names = picked(config)
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("image")
        (kept if marker is None or marker.args[0] in names else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def image(request: pytest.FixtureRequest) -> str:
    """The `repository:tag` of the test's image, as locked; fails when it is not built."""
    return built(request.node.get_closest_marker("image").args[0])


@pytest.fixture
def start() -> Iterator[Callable[..., Container]]:
    """`start(image, *args, ports=(...), volumes=(...), env={...}, network=NAME, alias=NAME)`:
    a detached container, removed after."""
    started: list[str] = []

    def run(
        image: str,
        *args: str,
        ports: tuple[int, ...] = (),
        volumes: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        network: str | None = None,
        alias: str | None = None,
    ) -> Container:
        command = ["docker", "run", "-d"]
        for port in ports:
            command += ["-p", f"127.0.0.1::{port}"]
        for volume in volumes:
            command += ["-v", volume]
        for name, value in (env or {}).items():
            command += ["-e", f"{name}={value}"]
        if network:
            command += ["--network", network]
        if alias:
            command += ["--network-alias", alias]
        result = subprocess.run(
            [*command, image, *args], capture_output=True, text=True, check=True
        )
        started.append(result.stdout.strip())
        return Container(started[-1])

    yield run
    for container in started:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


def docker_object(kind: str) -> Iterator[str]:
    """A Docker `kind` (network, volume) of the test's own, removed after its containers."""
    name = f"smoke-{uuid.uuid4().hex[:12]}"
    subprocess.run(["docker", kind, "create", name], capture_output=True, check=True)
    yield name
    subprocess.run(["docker", kind, "rm", name], capture_output=True, check=False)


@pytest.fixture
def network() -> Iterator[str]:
    """A Docker network of its own for the test's containers, removed after (they are first)."""
    yield from docker_object("network")


@pytest.fixture
def volume() -> Iterator[str]:
    """A named Docker volume, removed after the test's containers."""
    yield from docker_object("volume")
