"""An image's inputs: the files of its build context, and the hash that names them."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from tools.bootstrap.paths import REPO_ROOT
from tools.images.spec import ImageSpec, SpecError

# Left behind by tools and tests; never part of what an image is built from.
IGNORED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
HASH_FORMAT = b"jupyterhub-k8s image inputs v1\n"
TAG_LENGTH = 12


def ignored(path: Path) -> bool:
    return path.name in IGNORED_NAMES or path.name.endswith(IGNORED_SUFFIXES)


def walk(folder: Path) -> Iterator[Path]:
    """Files under `folder`, in a stable order, skipping ignored names at any depth."""
    for path in sorted(folder.iterdir()):
        if ignored(path):
            continue
        if path.is_dir():
            yield from walk(path)
        elif path.is_file():
            yield path


def context_files(spec: ImageSpec, repo_root: Path = REPO_ROOT) -> dict[str, Path]:
    """Build-context path -> file: the image's folder at the root (with its Dockerfile, its own or
    a shared one), its inputs at their repo path."""
    folder = repo_root / spec.folder.relative_to(REPO_ROOT)
    files = {path.relative_to(folder).as_posix(): path for path in walk(folder)}
    if spec.dockerfile is not None:
        if "Dockerfile" in files:
            raise SpecError(
                f"image {spec.name!r} names {spec.dockerfile} and has a Dockerfile of its own in "
                f"{folder}; keep one"
            )
        files["Dockerfile"] = repo_root / spec.dockerfile
    if "Dockerfile" not in files or not files["Dockerfile"].is_file():
        raise SpecError(f"image {spec.name!r} has no Dockerfile ({spec.dockerfile_path})")
    for entry in spec.inputs:
        source = repo_root / entry
        if source.is_file():
            found = {entry: source}
        elif source.is_dir():
            found = {path.relative_to(repo_root).as_posix(): path for path in walk(source)}
        else:
            raise SpecError(f"image {spec.name!r}: input {entry!r} does not exist in the repo")
        clashes = sorted(set(found) & set(files))
        if clashes:
            raise SpecError(f"image {spec.name!r}: {clashes} come from two places; rename one")
        files.update(found)
    return files


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def content_hash(files: Mapping[str, Path], build_args: Mapping[str, str], base_id: str) -> str:
    """sha256 over the files (path, executable bit, content), build args and the base image id."""
    digest = hashlib.sha256(HASH_FORMAT)
    for name in sorted(files):
        executable = "x" if files[name].stat().st_mode & 0o111 else "-"
        digest.update(f"file {name} {executable} {file_digest(files[name])}\n".encode())
    for key in sorted(build_args):
        digest.update(f"arg {key}={build_args[key]}\n".encode())
    digest.update(f"base {base_id}\n".encode())
    return digest.hexdigest()


def tag_for(full_hash: str) -> str:
    return full_hash[:TAG_LENGTH]


def write_context(files: Mapping[str, Path], target: Path) -> None:
    """Copy the files into an empty build-context folder, keeping their modes."""
    for name, source in files.items():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
