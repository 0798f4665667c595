"""A container registry for CI: reuse images built before by hash, push releases, lock digests.

Images are pushed as `<registry>/<repository without its host>:<tag>`, so the upstream-named
images (Keycloak, configurable-http-proxy) land under the project's registry too.
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
    """`ghcr.example/org` + `quay.io/keycloak/keycloak` -> `ghcr.example/org/keycloak/keycloak`."""
    first, _, rest = repository.partition("/")
    path = rest if rest and ("." in first or ":" in first) else repository
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
        remote = f"{remote_name(registry, entry.repository)}:{entry.tag}"
        docker.tag(entry.reference, remote)
        docker.docker("push", remote)
        digest = repo_digest(entry.reference, remote.rsplit(":", 1)[0])
        pushed[name] = lock.update(name, replace(entry, digest=digest), lock_path)
        say(f"    {name}: {digest}")
    return pushed


def repo_digest(reference: str, remote_repository: str) -> str:
    each_digest = "{{range .RepoDigests}}{{println .}}{{end}}"
    for line in docker.docker("image", "inspect", "--format", each_digest, reference).split():
        if line.startswith(f"{remote_repository}@"):
            return line
    raise RegistryError(f"Docker recorded no digest for {remote_repository} after the push")
