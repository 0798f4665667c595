"""`images/images.lock.json`: what each image was last built as, for the charts and tests.

One entry per image name: `repository`, `tag` (the content hash's short form), `content_hash`,
`image_id` (what `docker images` shows after the build) and `digest` (`repository@sha256:...`
after a push to a registry, else null). Builds rewrite the entries of the images they built.
"""

from __future__ import annotations

import fcntl
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tools.images.content import TAG_LENGTH
from tools.images.spec import IMAGES_DIR

LOCK_FILE = IMAGES_DIR / "images.lock.json"


class LockError(ValueError):
    """The lock file cannot be read as ours."""


@dataclass(frozen=True)
class LockedImage:
    repository: str
    tag: str
    content_hash: str
    image_id: str
    digest: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    def chart_image(self) -> dict[str, str]:
        """The chart's `{name, tag, digest}` image values: the pushed name and digest once
        pushed (a release, or the dev environment's local registry), else the local name and
        hash tag."""
        if self.digest:
            name, digest = self.digest.split("@", 1)
            return {"name": name, "tag": self.tag, "digest": digest}
        return {"name": self.repository, "tag": self.tag, "digest": ""}


def read(path: Path = LOCK_FILE) -> dict[str, LockedImage]:
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text())
        return {name: LockedImage(**entry) for name, entry in document["images"].items()}
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise LockError(
            f"{path} is not a lock file this tool wrote ({error}); delete it and build again"
        ) from None


def write(entries: dict[str, LockedImage], path: Path = LOCK_FILE) -> None:
    document = {"images": {name: asdict(entries[name]) for name in sorted(entries)}}
    path.write_text(json.dumps(document, indent=2) + "\n")


def update(name: str, entry: LockedImage, path: Path = LOCK_FILE) -> LockedImage:
    """Record one image, keeping the others' entries and its digest while it is the same image.

    Builds running side by side (one per terminal) each update their own entries, so the
    read-modify-write holds an exclusive lock on the file.
    """
    with path.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        entries = read(path) if path.stat().st_size else {}
        previous = entries.get(name)
        if previous and previous.image_id == entry.image_id and entry.digest is None:
            entry = replace(entry, digest=previous.digest)
        entries[name] = entry
        write(entries, path)
    return entry


def mismatches(entries: dict[str, LockedImage], image_ids: dict[str, str | None]) -> list[str]:
    """One line per locked image whose reference is absent or has another id in Docker.

    `image_ids` maps each locked reference to the id Docker has for it (None: absent).
    """
    problems = []
    for name, entry in sorted(entries.items()):
        found = image_ids.get(entry.reference)
        if found is None:
            problems.append(f"{name}: {entry.reference} is not in Docker")
        elif found != entry.image_id:
            problems.append(f"{name}: {entry.reference} is {found}, the lock says {entry.image_id}")
    return problems


def stale(entries: dict[str, LockedImage], present: list[str], repositories: set[str]) -> list[str]:
    """References in `present` of our repositories that are neither locked nor version aliases.

    Hash tags are 12 hex digits; other tags (an upstream version alias) are left alone.
    """
    locked = {entry.reference for entry in entries.values()}
    found = []
    for reference in present:
        repository, _, tag = reference.rpartition(":")
        is_hash_tag = len(tag) == TAG_LENGTH and all(c in "0123456789abcdef" for c in tag)
        if repository in repositories and is_hash_tag and reference not in locked:
            found.append(reference)
    return sorted(found)
