"""apt_install against a stand-in apt-get on PATH that behaves as apt does with dpkg's lock held:
it fails at once unless told to wait for the lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tools.bootstrap import apt

FAKE_APT = """#!/bin/sh
echo "$@" >> "{calls}"
case " $* " in
  *" DPkg::Lock::Timeout="*) exit 0 ;;
esac
echo "E: Could not get lock /var/lib/dpkg/lock-frontend" >&2
exit 100
"""


@pytest.fixture
def locked_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    calls = tmp_path / "calls"
    apt_get = tmp_path / "bin" / "apt-get"
    apt_get.parent.mkdir()
    apt_get.write_text(FAKE_APT.format(calls=calls))
    apt_get.chmod(apt_get.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{apt_get.parent}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_an_install_waits_for_the_dpkg_lock_another_apt_holds(locked_apt: Path) -> None:
    apt.apt_install("debootstrap")

    (call,) = locked_apt.read_text().splitlines()
    assert call.endswith("install -y -q --no-install-recommends debootstrap")
