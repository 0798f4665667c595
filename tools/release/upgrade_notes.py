"""The upgrade notes (docs/upgrading.md): a final release needs its own section there.

A section is a level-two heading with the version (`## 1.2.0`, text may follow it, such as a
date) and at least one line under it. Changes land under `## Unreleased`; the release renames
that heading to the version. Pre-releases (`1.2.0-rc.1`, the rehearsal's
`0.1.0-rehearsal.g<sha>`) need none: they are tried, not adopted.
"""

from __future__ import annotations

import re
from pathlib import Path

from tools.bootstrap.paths import REPO_ROOT
from tools.release.version import SEMVER

UPGRADE_NOTES = REPO_ROOT / "docs" / "upgrading.md"
HEADING = re.compile(r"^## +(\S+)", re.MULTILINE)


class UpgradeNotesMissing(ValueError):
    """A final release without its section in the upgrade notes."""


def sections(text: str) -> dict[str, str]:
    """Each level-two heading's first word, with the text under it up to the next heading."""
    found = list(HEADING.finditer(text))
    ends = [match.start() for match in found[1:]] + [len(text)] if found else []
    return {
        match[1]: text[match.end() : end].split("\n", 1)[-1].strip()
        for match, end in zip(found, ends, strict=True)
    }


def check(version: str, notes: Path = UPGRADE_NOTES) -> None:
    """UpgradeNotesMissing when `version` is final and `notes` has no section for it."""
    match = SEMVER.fullmatch(version)
    if match is None or match["prerelease"]:
        return
    shown = notes.relative_to(REPO_ROOT) if notes.is_relative_to(REPO_ROOT) else notes
    text = notes.read_text() if notes.is_file() else ""
    body = sections(text).get(version)
    if body is None:
        raise UpgradeNotesMissing(
            f"{shown} has no section '## {version}': rename its '## Unreleased' heading to "
            f"'## {version}' (what operators change in values, database migrations, our tables)"
        )
    if not body:
        raise UpgradeNotesMissing(
            f"the section '## {version}' of {shown} is empty: say what operators must change, "
            "or that nothing needs changing"
        )
