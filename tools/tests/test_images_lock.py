from pathlib import Path

import pytest

from tools.images import lock

ENTRY = lock.LockedImage("org/hub", "abc123def456", "abc123def456" + "0" * 52, "sha256:1")


def test_round_trip_and_update_keeps_other_entries(tmp_path: Path) -> None:
    path = tmp_path / "images.lock.json"
    lock.update("hub", ENTRY, path)
    lock.update("lab-base", lock.LockedImage("org/lab", "t", "h", "sha256:2"), path)
    entries = lock.read(path)
    assert entries["hub"] == ENTRY
    assert entries["hub"].reference == "org/hub:abc123def456"
    assert list(entries) == ["hub", "lab-base"]


def test_digest_is_kept_for_the_same_image_and_dropped_for_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "images.lock.json"
    lock.update("hub", lock.LockedImage(**{**ENTRY.__dict__, "digest": "org/hub@sha256:9"}), path)
    assert lock.update("hub", ENTRY, path).digest == "org/hub@sha256:9"
    rebuilt = lock.LockedImage("org/hub", "fff", "fff", "sha256:7")
    assert lock.update("hub", rebuilt, path).digest is None


def test_a_foreign_file_is_refused_with_a_way_out(tmp_path: Path) -> None:
    path = tmp_path / "images.lock.json"
    path.write_text('{"hub": "org/hub:1"}')
    with pytest.raises(lock.LockError, match="delete it and build again"):
        lock.read(path)


def test_mismatches_name_missing_and_changed_images() -> None:
    entries = {"hub": ENTRY, "lab": lock.LockedImage("org/lab", "t", "h", "sha256:2")}
    assert lock.mismatches(entries, {ENTRY.reference: "sha256:1", "org/lab:t": "sha256:2"}) == []
    problems = lock.mismatches(entries, {ENTRY.reference: "sha256:5"})
    assert problems == [
        "hub: org/hub:abc123def456 is sha256:5, the lock says sha256:1",
        "lab: org/lab:t is not in Docker",
    ]


def test_stale_names_unlocked_hash_tags_of_our_repositories_only() -> None:
    present = [
        ENTRY.reference,
        "org/hub:0123456789ab",
        "org/hub:latest",
        "quay.io/keycloak/keycloak:26.5.6",
        "other/thing:0123456789ab",
    ]
    repositories = {"org/hub", "quay.io/keycloak/keycloak"}
    assert lock.stale({"hub": ENTRY}, present, repositories) == ["org/hub:0123456789ab"]


def test_chart_image_prefers_the_pushed_name_and_digest() -> None:
    assert ENTRY.chart_image() == {"name": "org/hub", "tag": "abc123def456", "digest": ""}
    pushed = lock.LockedImage(**{**ENTRY.__dict__, "digest": "reg.example/org/hub@sha256:9"})
    assert pushed.chart_image() == {
        "name": "reg.example/org/hub",
        "tag": "abc123def456",
        "digest": "sha256:9",
    }
