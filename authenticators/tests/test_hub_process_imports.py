"""A hub process started by the harness runs the multilogin code this process imported, even
when PYTHONPATH names it relative to this process's directory (the hub runs in its workdir)."""

from __future__ import annotations

from pathlib import Path

import pytest
from multilogin_harness import hub_pythonpath

import multilogin

SOURCE_DIR = Path(multilogin.__file__).resolve().parents[1]


def test_relative_entries_are_made_absolute_from_this_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)

    entries = hub_pythonpath("authenticators:hub").split(":")

    assert str(tmp_path / "authenticators") in entries
    assert str(tmp_path / "hub") in entries
    assert "authenticators" not in entries


def test_the_imported_multilogin_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    assert hub_pythonpath(None).split(":")[0] == str(SOURCE_DIR)
