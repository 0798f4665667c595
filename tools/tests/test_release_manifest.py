"""The release manifest and the changelog section (git of this checkout)."""

import json
import tomllib
from datetime import date
from pathlib import Path

import pytest

from tools.bootstrap.paths import REPO_ROOT
from tools.images import lock
from tools.release import changelog, manifest

DIGEST = "reg.example/jupyterhub-k8s/hub@sha256:" + "ab" * 32
HUB = lock.LockedImage("jupyterhub-k8s/hub", "0123456789ab", "c" * 64, "sha256:1", DIGEST)
BUILDER = lock.LockedImage("jupyterhub-k8s/python-builder", "ba9876543210", "d" * 64, "sha256:2")


def test_the_manifest_holds_digests_pins_and_the_lock(tmp_path: Path) -> None:
    release_lock = tmp_path / "images.lock.json"
    lock.write({"hub": HUB, "python-builder": BUILDER}, release_lock)
    record = manifest.document(
        version="1.2.0",
        commit="f" * 40,
        uncommitted=["images/images.lock.json"],
        registry_path="reg.example",
        published="prod.example/campus",
        chart_reference="oci://reg.example/charts/jupyterhub-k8s",
        chart_digest="sha256:" + "cd" * 32,
        pushed={"hub": HUB},
        release_lock=release_lock,
    )
    written = json.loads(manifest.write(tmp_path, record).read_text())
    assert written["version"] == "1.2.0"
    assert (written["registry"], written["published_as"]) == ("reg.example", "prod.example/campus")
    assert written["uncommitted"] == ["images/images.lock.json"]
    assert written["chart"]["digest"] == "sha256:" + "cd" * 32
    assert written["images"] == {"hub": {"digest": DIGEST}}
    assert written["versions"] == tomllib.loads((REPO_ROOT / "versions.toml").read_text())
    assert written["lock"]["python-builder"]["content_hash"] == "d" * 64
    assert written["lock"]["hub"]["digest"] == DIGEST


def record(releases: Path, version: str, commit: str) -> None:
    (releases / version).mkdir(parents=True)
    (releases / version / manifest.MANIFEST_NAME).write_text(
        json.dumps({"version": version, "commit": commit})
    )


def test_the_previous_release_is_the_highest_version_below(tmp_path: Path) -> None:
    for version, commit in [("1.0.0", "a"), ("1.10.0", "b"), ("1.2.0", "c"), ("2.0.0", "d"),
                            ("1.10.1-rc.1", "e")]:  # fmt: skip
        record(tmp_path, version, commit)
    assert changelog.previous_recorded("1.10.1", tmp_path) == ("1.10.1-rc.1", "e")
    assert changelog.previous_recorded("1.10.0", tmp_path) == ("1.2.0", "c")
    assert changelog.previous_recorded("1.0.0", tmp_path) is None


def test_the_section_lists_the_commits_since_the_recorded_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.setattr(changelog, "REPO_ROOT", repo)  # a history of our own, not this checkout's
    changelog.git("init", "-q")
    for subject in ("the recorded release", "a change after it"):
        changelog.git("-c", "user.name=t", "-c", "user.email=t@example.test",
                      "commit", "-q", "--allow-empty", "-m", subject)  # fmt: skip
    head, parent = changelog.git("log", "-2", "--format=%H").split()
    releases = tmp_path / "releases"
    record(releases, "1.1.0", parent)
    text = changelog.section("1.2.0", releases, today=date(2026, 12, 1))
    assert text.startswith(f"## 1.2.0 (2026-12-01)\n\nChanges since 1.1.0 ({parent[:12]}):\n\n")
    assert text.splitlines()[4:] == [f"- a change after it ({head[:7]})"]
