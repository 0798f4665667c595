"""Docker, the one way the tools talk to it: the docker CLI through the project's runner.

Starting the daemon and making privileged containers work is the bootstrap's job
(tools.bootstrap.dockerd); this module is what builds, tests and the cluster ask of a running one.
"""

from __future__ import annotations

from pathlib import Path

from tools.bootstrap.run import RunError, run


def docker(*args: str, timeout: float | None = None, log: Path | None = None) -> str:
    """Run the docker CLI and return its standard output (RunError when it fails)."""
    return run(["docker", *args], timeout=timeout, log=log)


def image_id(reference: str) -> str | None:
    """The id Docker has for `reference`, or None when it has no such image."""
    try:
        return docker("image", "inspect", "--format", "{{.Id}}", reference).strip()
    except RunError:
        return None


def image_size(reference: str) -> int:
    """Size in bytes of the image with all its layers, as `docker images` shows it."""
    return int(docker("image", "inspect", "--format", "{{.Size}}", reference).strip())


def image_label(reference: str, label: str) -> str | None:
    """A label of a local image: None when there is no such image, "" when it lacks the label."""
    template = f'{{{{ index .Config.Labels "{label}" }}}}'
    try:
        value = docker("image", "inspect", "--format", template, reference).strip()
    except RunError:
        return None
    return "" if value == "<no value>" else value


def references(repository: str) -> list[str]:
    """Every `repository:tag` Docker holds for the repository."""
    return docker("images", "--format", "{{.Repository}}:{{.Tag}}", repository).split()


def remove(reference: str) -> None:
    docker("rmi", reference)


def tag(source: str, target: str) -> None:
    docker("tag", source, target)


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB"
