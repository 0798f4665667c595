"""A container registry (CI's, or the local one of tools/local_registry.py): reuse images built
before by hash, push images, lock their digests.

Images are pushed as `<registry>/<repository without its host>:<tag>`, with Docker Hub's
one-part names under `library/` as Docker names them (`debian` is `docker.io/library/debian`):
the path a node's containerd asks a mirror for (tools/local_registry.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tools import docker
from tools.bootstrap.progress import say
from tools.bootstrap.run import succeeds
from tools.images import lock
from tools.images.build import Plan, Puller


class RegistryError(RuntimeError):
    """A push to the registry failed."""


def remote_name(registry: str, repository: str) -> str:
    """`ghcr.example/org` + `quay.io/keycloak/keycloak` -> `ghcr.example/org/keycloak/keycloak`,
    + `debian` -> `ghcr.example/org/library/debian`."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        path = rest
    else:
        path = repository if rest else f"library/{repository}"
    return f"{registry.rstrip('/')}/{path}"


def puller(registry: str) -> Puller:
    """A build puller: an image whose hash tag the registry already has is pulled, not built."""

    def pull(job: Plan) -> bool:
        remote = f"{remote_name(registry, job.spec.repository)}:{job.tag}"
        if not succeeds(["docker", "pull", remote]):
            return False
        docker.tag(remote, job.reference)
        say(f"    {remote} is in the registry; not rebuilt")
        return True

    return pull


def push(
    registry: str, names: list[str], lock_path: Path = lock.LOCK_FILE
) -> dict[str, lock.LockedImage]:
    """Push the locked images and record `<remote>@sha256:...` as each one's digest in the lock
    file at `lock_path` (a release records them in its own copy)."""
    entries = lock.read(lock_path)
    missing = [name for name in names if name not in entries]
    if missing:
        raise RegistryError(f"not in the lock file, build them first: {', '.join(missing)}")
    pushed = {}
    for name in names:
        entry = entries[name]
        digest = push_reference(registry, entry.repository, entry.tag)
        pushed[name] = lock.update(name, replace(entry, digest=digest), lock_path)
        say(f"    {name}: {digest}")
    return pushed


def push_reference(registry: str, repository: str, tag: str) -> str:
    """Push Docker's `repository:tag` to the registry; return `<remote>@sha256:...`.

    A push of layers the registry holds sends none of them again.
    """
    remote = remote_name(registry, repository)
    docker.tag(f"{repository}:{tag}", f"{remote}:{tag}")
    docker.docker("push", f"{remote}:{tag}")
    return repo_digest(f"{repository}:{tag}", remote)


def repo_digest(reference: str, remote_repository: str) -> str:
    each_digest = "{{range .RepoDigests}}{{println .}}{{end}}"
    for line in docker.docker("image", "inspect", "--format", each_digest, reference).split():
        if line.startswith(f"{remote_repository}@"):
            return line
    raise RegistryError(f"Docker recorded no digest for {remote_repository} after the push")
