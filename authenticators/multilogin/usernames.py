"""One username form for every login source, and lookups of the claim that carries it."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any


def normalize_username(name: str) -> str:
    """The hub's one form of a username: NFKC, surrounding space removed, lower case.

    NFKC first, so that compatibility characters (full-width letters, ligatures) fold to the
    letters the campus directory stores; lower case after, because Keycloak and Moodle both
    treat usernames case-insensitively.
    """
    return unicodedata.normalize("NFKC", name).strip().lower()


def lookup_claim(data: Mapping[str, Any], path: str) -> Any:
    """The value at `path` in `data`, or None.

    `path` is a top-level key, or `KEY#SUBKEY` for a key inside a claim object: LTI 1.3 claim
    names are URLs full of dots and slashes, so `#` is the only safe separator.
    """
    key, _, subkey = path.partition("#")
    value = data.get(key)
    if subkey:
        value = value.get(subkey) if isinstance(value, Mapping) else None
    return value


def first_present(data: Mapping[str, Any], paths: Iterable[str]) -> tuple[str, str] | None:
    """The first non-empty string found at one of `paths`, with the path it came from."""
    for path in paths:
        value = lookup_claim(data, path)
        if isinstance(value, str) and value.strip():
            return path, value
    return None
