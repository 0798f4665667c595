"""The release version: Semantic Versioning 2.0.0, as Helm requires of a chart's `version`."""

from __future__ import annotations

import re

# semver.org's recommended expression (https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string).
SEMVER = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
LONGEST = 128


class VersionError(ValueError):
    """The text is not a release version."""


def parse(text: str) -> str:
    """The version itself when `text` is a semantic version such as 1.2.0 or 1.2.0-rc.1."""
    if len(text) > LONGEST:
        raise VersionError(f"a release version has at most {LONGEST} characters")
    if SEMVER.fullmatch(text):
        return text
    without_v = text[1:] if text[:1] in "vV" else None
    hint = (
        f"; write {without_v}, without the v of the tag"
        if without_v and SEMVER.fullmatch(without_v)
        else ""
    )
    raise VersionError(
        f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.2.0 or 1.2.0-rc.1){hint}"
    )


def sort_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Precedence as semver.org defines it: a pre-release sorts before its release; numeric
    pre-release parts before alphanumeric ones; build metadata is ignored."""
    match = SEMVER.fullmatch(version)
    if match is None:
        raise VersionError(f"{version!r} is not a semantic version")
    prerelease = match["prerelease"]
    parts = tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in (prerelease or "").split(".")
    )
    return (
        int(match["major"]),
        int(match["minor"]),
        int(match["patch"]),
        0 if prerelease else 1,
        parts if prerelease else (),
    )
