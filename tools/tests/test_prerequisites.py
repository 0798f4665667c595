from pathlib import Path

import pytest

from tools.bootstrap import prerequisites
from tools.bootstrap.prerequisites import Prerequisite


def make(name: str, state: dict[str, bool]) -> Prerequisite:
    def problem() -> str | None:
        return None if state["present"] else f"{name} is not installed"

    def install() -> None:
        state["installs"] = state.get("installs", 0) + 1
        state["present"] = state["installable"]

    return Prerequisite(name, problem, install, f"install {name} by hand")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, bool]]:
    states = {
        "present": {"present": True, "installable": True},
        "installable": {"present": False, "installable": True},
        "broken": {"present": False, "installable": False},
    }
    monkeypatch.setattr(
        prerequisites, "PREREQUISITES", {name: make(name, state) for name, state in states.items()}
    )
    return states


def test_present_parts_are_left_alone(registry: dict[str, dict[str, bool]]) -> None:
    prerequisites.ensure(["present"], install=True)
    assert "installs" not in registry["present"]


def test_missing_parts_are_installed_where_allowed(registry: dict[str, dict[str, bool]]) -> None:
    prerequisites.ensure(["installable"], install=True)
    assert registry["installable"]["installs"] == 1


def test_without_install_every_missing_part_is_reported_with_a_fix(
    registry: dict[str, dict[str, bool]],
) -> None:
    with pytest.raises(prerequisites.MissingPrerequisites) as error:
        prerequisites.ensure(["installable", "present", "broken"], install=False)
    message = str(error.value)
    assert (
        "installable: installable is not installed. To fix: install installable by hand." in message
    )
    assert "broken: broken is not installed" in message
    assert not any(line.startswith("  - present") for line in message.splitlines())
    assert "installs" not in registry["installable"]


def test_a_failed_install_still_reports_the_part(registry: dict[str, dict[str, bool]]) -> None:
    with pytest.raises(prerequisites.MissingPrerequisites, match="broken: broken is not installed"):
        prerequisites.ensure(["broken"], install=True)
    assert registry["broken"]["installs"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("go1.24.13", (1, 24, 13)), ("1.26", (1, 26)), ("v1.34.4-rc.1", (1, 34, 4))],
)
def test_version_tuple(text: str, expected: tuple[int, ...]) -> None:
    assert prerequisites.version_tuple(text) == expected


def test_go_too_old_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prerequisites.shutil, "which", lambda name: "/usr/bin/go")
    monkeypatch.setattr(prerequisites, "installed_go_version", lambda go: (1, 19))
    problem = prerequisites.go_problem()
    assert problem is not None
    assert problem.startswith("Go 1.19 is too old")


def test_chromium_path_honours_the_override(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    browser = tmp_path / "chrome"
    browser.write_text("")
    monkeypatch.setenv("CHROMIUM_PATH", str(browser))
    assert prerequisites.chromium_path() == str(browser)
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "missing"))
    assert prerequisites.chromium_problem() == "Chromium is not installed"
