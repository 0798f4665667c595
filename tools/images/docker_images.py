"""The few facts about local images the build needs, from the docker CLI."""

from __future__ import annotations

import subprocess


def image_id(reference: str) -> str | None:
    """The id Docker has for `reference`, or None when it has no such image."""
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", reference],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def image_size(reference: str) -> int:
    """Size in bytes of the image with all its layers, as `docker images` shows it."""
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", reference],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip())


def references(repository: str) -> list[str]:
    """Every `repository:tag` Docker holds for the repository."""
    result = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", repository],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def remove(reference: str) -> None:
    subprocess.run(["docker", "rmi", reference], capture_output=True, check=True)


def tag(source: str, target: str) -> None:
    subprocess.run(["docker", "tag", source, target], capture_output=True, check=True)


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB"
