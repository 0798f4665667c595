"""One username form for every login source, the names the hub admits, and lookups of the
claim that carries a name."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

# A DNS label: lower-case ASCII letters and digits, single hyphens inside, 1-63 characters. A user
# server's subdomain and its pod and home-claim names are the username itself, so a name outside
# this form could not be used unchanged, and a hashed form is what lets two names collide.
# hubconfig's spawner refuses names outside the same pattern.
DEFAULT_USERNAME_PATTERN = r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$"


def normalize_username(name: str) -> str:
    """The hub's one form of a username: NFC, surrounding space removed, lower case.

    Deliberately not NFKC: folding compatibility characters (full-width letters, modifier
    letters) turned look-alikes of `admin` into `admin`. Names that NFKC would change are
    refused instead (`username_problem`).
    """
    return unicodedata.normalize("NFC", name).strip().lower()


LOOK_ALIKE = "it contains characters that look like other letters"


def is_look_alike(raw: str) -> bool:
    """Whether Unicode normalisation changes `raw`: then it looks like another name (full-width
    letters, modifier letters, the Kelvin sign for K) and could only be admitted by folding it
    into that other name."""
    stripped = raw.strip()
    composed = unicodedata.normalize("NFC", stripped)
    return composed != stripped or unicodedata.normalize("NFKC", composed) != composed


def username_problem(raw: str, pattern: re.Pattern[str] | None) -> str | None:
    """Why `raw` (a name as a source sent it) cannot be a hub username, or None when it can."""
    if is_look_alike(raw):
        return LOOK_ALIKE
    if pattern is not None and not pattern.fullmatch(normalize_username(raw)):
        return "it does not have the form of a hub username"
    return None


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
