"""The changelog section of a release: the commits since the previous release, from git.

The previous release is the newest tag `v<semver>` reachable from HEAD other than this
version's own tag (the tag workflow runs on it); without one, the recorded release (a manifest
under the releases folder) with the highest version below this one; without either, the
whole history.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from tools.bootstrap.paths import REPO_ROOT
from tools.bootstrap.run import RunError, run
from tools.release import version as versions
from tools.release.manifest import MANIFEST_NAME


def git(*args: str) -> str:
    return run(["git", "-C", REPO_ROOT, *args]).strip()


def previous_tag(version: str) -> str | None:
    try:
        return git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*",
                   "--exclude", f"v{version}", "HEAD")  # fmt: skip
    except RunError:
        return None  # no such tag


def previous_recorded(version: str, releases: Path) -> tuple[str, str] | None:
    """(version, commit) of the recorded release with the highest version below `version`."""
    recorded = []
    for path in releases.glob(f"*/{MANIFEST_NAME}"):
        manifest = json.loads(path.read_text())
        if versions.sort_key(manifest["version"]) < versions.sort_key(version):
            recorded.append((manifest["version"], manifest["commit"]))
    return max(recorded, key=lambda entry: versions.sort_key(entry[0]), default=None)


def section(version: str, releases: Path, today: date | None = None) -> str:
    """A Markdown section: a heading with the version and date, then one line per commit."""
    tag = previous_tag(version)
    recorded = None if tag else previous_recorded(version, releases)
    since, log_range = (
        (f"Changes since {tag}", [f"{tag}..HEAD"])
        if tag
        else (f"Changes since {recorded[0]} ({recorded[1][:12]})", [f"{recorded[1]}..HEAD"])
        if recorded
        else ("Changes (the first release)", ["HEAD"])
    )
    commits = git("log", "--no-merges", "--format=- %s (%h)", *log_range)
    day = (today or date.today()).isoformat()
    body = commits or "- no changes"
    return f"## {version} ({day})\n\n{since}:\n\n{body}\n"
