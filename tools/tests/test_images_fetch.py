from pathlib import Path

import pytest

from tools.images import fetch


def test_copy_into_leaves_out_what_host_runs_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "keycloak-1.0"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "kc.sh").write_text("#!/bin/sh\n")
    (home / "data" / "h2").mkdir(parents=True)
    (home / "keycloak-8180.pid").write_text("1")
    monkeypatch.setitem(fetch.FETCHERS, "dist", lambda: home)
    context = tmp_path / "context"
    context.mkdir()
    fetch.copy_into("dist", context)
    assert sorted(p.relative_to(context).as_posix() for p in context.rglob("*")) == [
        "dist",
        "dist/bin",
        "dist/bin/kc.sh",
    ]


def test_only_named_fetchers_are_known() -> None:
    assert fetch.known("keycloak-distribution")
    assert not fetch.known("anything-else")
