"""Smoke tests of built images with `docker run`; `--images NAME,...` picks which ones.

By default the default images of images.toml are tested. A test of an image that is not built
fails with the command that builds it; tests of images not picked are deselected, not skipped.
A name that images.toml does not know stops the run before any test.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest
from containers import Container

from tools import docker
from tools.images import lock, spec


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
    name = request.node.get_closest_marker("image").args[0]
    entry = lock.read().get(name)
    build = f"python -m tools.images build {name}"
    if entry is None:
        pytest.fail(f"{name} is not in images/images.lock.json; run `{build}`")
    if docker.image_id(entry.reference) != entry.image_id:
        pytest.fail(f"{entry.reference} is not the locked image in Docker; run `{build}`")
    return entry.reference


@pytest.fixture
def start() -> Iterator[Callable[..., Container]]:
    """`start(image, *args, ports=(...), volumes=(...))`: a detached container, removed after."""
    started: list[str] = []

    def run(
        image: str, *args: str, ports: tuple[int, ...] = (), volumes: tuple[str, ...] = ()
    ) -> Container:
        command = ["docker", "run", "-d"]
        for port in ports:
            command += ["-p", f"127.0.0.1::{port}"]
        for volume in volumes:
            command += ["-v", volume]
        result = subprocess.run(
            [*command, image, *args], capture_output=True, text=True, check=True
        )
        started.append(result.stdout.strip())
        return Container(started[-1])

    yield run
    for container in started:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
