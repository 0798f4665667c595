"""hubconfig.backup on real SQLite files: backup, loss, restore, and the refusals.

The same on a real PostgreSQL: hub/tests/test_backup_postgresql.py.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from backup_fixtures import (
    backup_of,
    every_row,
    refused_in_one_line,
    restores_only_when_forced,
    used_hub_database,
)
from hub_fakes import sqlite_hub_environment

from hubconfig import migrations
from hubconfig.backup import BackupError, create, restore
from hubconfig.backup.__main__ import main


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite'}"


def test_every_row_comes_back_into_a_new_database(url: str, tmp_path: Path) -> None:
    used_hub_database(url)
    before = every_row(url)
    assert {"users", "servers", "spawners", "api_tokens"} <= set(before)
    assert before["multilogin_used_nonces"] and before["multilogin_identities"]
    backup = backup_of(url)
    Path(url.removeprefix("sqlite:///")).unlink()
    restore(url, io.BytesIO(backup))
    assert every_row(url) == before
    assert migrations.problems(url) == []


def test_a_database_with_tables_is_refused_unless_forced(url: str, tmp_path: Path) -> None:
    used_hub_database(url)
    before = every_row(url)
    backup = backup_of(url)
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    used_hub_database(other)
    sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE kept_apart (x)").close()
    restores_only_when_forced(other, backup)
    # The backup's database, whole: the other database's own table is gone with the rest.
    assert every_row(other) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "does not start as a SQLite backup"),
        (b"name,password\nada,x\n", "does not start as a SQLite backup"),
        (
            b"PGDMP\x01\x0e\x00garbage",
            r"is a PostgreSQL \(pg_dump\) backup, but the hub database needs a SQLite",
        ),
        (b"SQLite format 3\x00" + b"\xff" * 200, "the SQLite backup is damaged"),
    ],
)
def test_a_foreign_or_corrupt_file_is_refused_in_one_line(
    url: str, content: bytes, message: str
) -> None:
    refused_in_one_line(url, content, message)
    assert not Path(url.removeprefix("sqlite:///")).exists()


def test_a_truncated_backup_is_refused(url: str) -> None:
    used_hub_database(url)
    backup = backup_of(url)
    with pytest.raises(BackupError, match="the SQLite backup is damaged"):
        restore(url, io.BytesIO(backup[: len(backup) // 2]), force=True)
    assert migrations.problems(url) == []


def test_a_sqlite_database_that_is_not_a_hubs_is_refused(url: str, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE grades (student, mark)").close()
    with pytest.raises(BackupError, match="not a hub database: it has no alembic_version"):
        restore(url, io.BytesIO(foreign.read_bytes()))


def test_a_hub_database_with_a_trigger_is_refused(url: str, tmp_path: Path) -> None:
    planted = tmp_path / "planted.sqlite"
    used_hub_database(f"sqlite:///{planted}")
    with closing(sqlite3.connect(planted)) as database:
        database.execute(
            "CREATE TRIGGER everyone_admin AFTER INSERT ON users "
            "BEGIN UPDATE users SET admin = 1; END"
        )
        database.commit()
    with pytest.raises(BackupError, match="holds more than a hub database's tables: trigger"):
        restore(url, io.BytesIO(planted.read_bytes()))
    assert not Path(url.removeprefix("sqlite:///")).exists()


def test_an_in_memory_database_has_no_backup() -> None:
    with pytest.raises(BackupError, match="in memory"):
        create("sqlite://", io.BytesIO())


def test_the_command_backs_up_and_restores_the_hubs_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment = sqlite_hub_environment(tmp_path, monkeypatch)
    hub_url = "sqlite:///jupyterhub.sqlite"
    used_hub_database(hub_url)
    before = every_row(hub_url)
    out = io.BytesIO()
    assert main(["create", "-"], environment, stdout=out) == 0
    backup = tmp_path / "hub-backup.sqlite"
    backup.write_bytes(out.getvalue())
    assert main(["restore", str(backup)], environment) == 1
    refused = capsys.readouterr().err
    assert "Traceback" not in refused
    assert refused.splitlines()[-1].startswith("hubconfig.backup: the hub database already has ")
    (tmp_path / "jupyterhub.sqlite").unlink()
    assert main(["restore", "-"], environment, stdin=io.BytesIO(backup.read_bytes())) == 0
    assert every_row(hub_url) == before
    assert migrations.main(environment) == 0


def test_the_command_names_a_bad_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = sqlite_hub_environment(tmp_path, monkeypatch)
    assert main(["restore", str(tmp_path / "no-such-backup")], environment) == 1
    assert main(["restore", "-"], environment, stdin=io.BytesIO(b"\x00" * 64)) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith("hubconfig.backup: [Errno 2] No such file or directory")
    assert errors[1] == (
        "hubconfig.backup: the file is not a backup that `python -m hubconfig.backup create` "
        "made (it has no seal); only those are restored"
    )


def sealed_backup(environment: dict[str, str]) -> bytes:
    used_hub_database("sqlite:///jupyterhub.sqlite")
    out = io.BytesIO()
    assert main(["create", "-"], environment, stdout=out) == 0
    Path("jupyterhub.sqlite").unlink()
    return out.getvalue()


@pytest.mark.parametrize(
    "altered",
    [
        lambda backup: backup[:-1] + bytes([backup[-1] ^ 1]),
        lambda backup: backup + b"\x00",
        lambda backup: backup.replace(b"grace", b"admin", 1),
    ],
    ids=["a-flipped-bit", "a-byte-more", "a-name-changed"],
)
def test_a_backup_changed_after_it_was_made_is_refused_and_nothing_restored(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    altered: Callable[[bytes], bytes],
) -> None:
    environment = sqlite_hub_environment(tmp_path, monkeypatch)
    backup = altered(sealed_backup(environment))
    assert main(["restore", "-"], environment, stdin=io.BytesIO(backup)) == 1
    assert "the backup's seal does not match the hub's crypt key" in capsys.readouterr().err
    assert not Path("jupyterhub.sqlite").exists()


def test_another_hubs_backup_is_refused_and_a_rotated_key_still_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = sqlite_hub_environment(tmp_path, monkeypatch)
    backup = sealed_backup(environment)
    other_hub = {**environment, "JUPYTERHUB_CRYPT_KEY": "d1" * 32}
    assert main(["restore", "-"], other_hub, stdin=io.BytesIO(backup)) == 1
    assert "seal does not match" in capsys.readouterr().err
    # JupyterHub's key rotation: the new key first, the old one after it.
    rotated = {
        **environment,
        "JUPYTERHUB_CRYPT_KEY": f"{'d1' * 32};{environment['JUPYTERHUB_CRYPT_KEY']}",
    }
    assert main(["restore", "-"], rotated, stdin=io.BytesIO(backup)) == 0


def test_the_command_without_the_crypt_key_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = sqlite_hub_environment(tmp_path, monkeypatch)
    del environment["JUPYTERHUB_CRYPT_KEY"]
    assert main(["create", "-"], environment, stdout=io.BytesIO()) == 2
    assert capsys.readouterr().err == (
        "hubconfig.backup: the hub's environment lacks JUPYTERHUB_CRYPT_KEY\n"
    )


def test_the_command_without_the_hubs_environment_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["create", "-"], {}) == 2
    assert "the hub's environment lacks" in capsys.readouterr().err
