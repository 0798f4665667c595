"""A final release needs its section in the upgrade notes; a pre-release does not."""

from pathlib import Path

import pytest

from tools.release import __main__ as release_command
from tools.release import upgrade_notes
from tools.release.upgrade_notes import UPGRADE_NOTES, UpgradeNotesMissing

NOTES = """# Upgrading

## Unreleased

- `hub.db`: nothing yet.

## 1.2.0 (2027-01-15)

- Rename `hub.foo` to `hub.bar`.

## 1.1.0
"""


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "upgrading.md"
    path.write_text(NOTES)
    return path


def test_a_final_version_with_its_section_is_released(notes: Path) -> None:
    upgrade_notes.check("1.2.0", notes)


@pytest.mark.parametrize("version", ["1.3.0", "12.0.0", "2.0.0"])
def test_a_final_version_without_its_section_is_refused(notes: Path, version: str) -> None:
    with pytest.raises(UpgradeNotesMissing, match=rf"no section '## {version}': rename its"):
        upgrade_notes.check(version, notes)


def test_an_empty_section_is_refused(notes: Path) -> None:
    with pytest.raises(UpgradeNotesMissing, match=r"'## 1\.1\.0' .* is empty"):
        upgrade_notes.check("1.1.0", notes)


def test_the_unreleased_section_does_not_stand_in_for_a_version(notes: Path) -> None:
    with pytest.raises(UpgradeNotesMissing, match="rename its '## Unreleased' heading"):
        upgrade_notes.check("1.2.1", notes)


@pytest.mark.parametrize(
    "version",
    ["1.3.0-rc.1", "0.1.0-rehearsal.g0123456789ab", "0.1.0-rehearsal.g0123456789ab.changed.17646"],
)
def test_a_prerelease_needs_no_section(tmp_path: Path, version: str) -> None:
    upgrade_notes.check(version, tmp_path / "no-notes-at-all.md")


def test_a_missing_notes_file_refuses_a_final_version(tmp_path: Path) -> None:
    with pytest.raises(UpgradeNotesMissing, match=r"no section '## 1\.0\.0'"):
        upgrade_notes.check("1.0.0", tmp_path / "no-notes-at-all.md")


def test_the_repos_notes_start_with_the_unreleased_section() -> None:
    assert next(iter(upgrade_notes.sections(UPGRADE_NOTES.read_text()))) == "Unreleased"


def test_the_command_refuses_a_final_version_the_notes_lack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert release_command.main(["999.0.0"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: docs/upgrading.md has no section '## 999.0.0'")
    assert "Traceback" not in error
