"""hubconfig.backup and the production example's database settings on a real PostgreSQL.

The database runs from this project's image (devservices/postgresql_fixture.py); pg_dump and
pg_restore are this machine's Debian postgresql-client, the package the hub image installs. The
same backups on SQLite files: hub/tests/test_backup.py.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from backup_fixtures import (
    backup_of,
    every_row,
    refused_in_one_line,
    restores_only_when_forced,
    used_hub_database,
)
from hub_fakes import CRYPT_KEY, VALUES_FILES, hub_environment, values_with
from jupyterhub.app import JupyterHub
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from hubconfig import migrations
from hubconfig.backup import BackupError, restore
from hubconfig.backup.__main__ import main
from postgresql_fixture import postgresql_url

pytestmark = pytest.mark.integration

__all__ = ["postgresql_url"]


def drop_everything(url: str) -> None:
    """Every table, view and function the hub's role owns."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP OWNED BY CURRENT_USER")
    engine.dispose()


@pytest.fixture
def url(postgresql_url: str) -> Iterator[str]:
    """The database, left without tables after each test."""
    yield postgresql_url
    drop_everything(postgresql_url)


@pytest.fixture
def production_environment(postgresql_url: str, tmp_path: Path) -> dict[str, str]:
    """The hub's environment with helm/values-production.yaml's `hub.db`, pointed at the test
    database, and the password where the chart puts it from hub.existingSecret."""
    database = make_url(postgresql_url)
    production = yaml.safe_load((VALUES_FILES / "values-production.yaml").read_text())["hub"]["db"]
    moved = make_url(production["url"]).set(host=database.host, port=database.port)
    db = {**production, "url": moved.render_as_string()}
    values_path = tmp_path / "values.yaml"
    values_path.write_text(yaml.safe_dump(values_with({"hub": {"db": db}})))
    return {
        **hub_environment(values_path),
        "JUPYTERHUB_K8S_DB_PASSWORD": str(database.password),
        "JUPYTERHUB_CRYPT_KEY": CRYPT_KEY,
    }


def test_the_production_database_settings_start_a_hub(
    url: str, production_environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrations.main(production_environment) == 1
    assert "not migrated: no alembic_version table" in capsys.readouterr().err
    used_hub_database(url)
    # JupyterHub's own start on the URL the chart's configuration builds from those values.
    hub = JupyterHub(db_url=url)
    hub.init_db()
    hub.db.close()
    assert migrations.main(production_environment) == 0
    assert "migrated: alembic head" in capsys.readouterr().out


def test_every_row_comes_back_into_an_emptied_database(url: str) -> None:
    used_hub_database(url)
    before = every_row(url)
    assert before["multilogin_used_nonces"] and before["multilogin_identities"]
    assert before["api_tokens"] and before["spawners"]
    backup = backup_of(url)
    assert backup.startswith(b"PGDMP")
    drop_everything(url)
    assert every_row(url) == {}
    restore(url, io.BytesIO(backup))
    assert every_row(url) == before
    assert migrations.problems(url) == []


def test_a_database_with_tables_is_refused_unless_forced(url: str) -> None:
    used_hub_database(url)
    before = every_row(url)
    backup = backup_of(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM multilogin_identities")
        connection.exec_driver_sql("UPDATE users SET name = 'changed' WHERE name = 'ada'")
    engine.dispose()
    restores_only_when_forced(url, backup)
    assert every_row(url) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PGDMP" + b"\x00" * 100, "pg_restore failed: pg_restore: error: "),
        (b"SQLite format 3\x00" + b"\x00" * 100, "is a SQLite backup, but the hub database needs"),
        (b"-- PostgreSQL database dump\n", "does not start as a PostgreSQL"),
    ],
)
def test_a_foreign_or_corrupt_file_is_refused_in_one_line(
    url: str, content: bytes, message: str
) -> None:
    refused_in_one_line(url, content, message)
    assert every_row(url) == {}


@pytest.mark.parametrize(
    ("planted", "entry"),
    [
        ("CREATE FUNCTION everyone_admin() RETURNS trigger LANGUAGE plpgsql AS "
         "$$ BEGIN UPDATE users SET admin = true; RETURN NULL; END $$", "FUNCTION public"),
        ("CREATE VIEW admins AS SELECT name FROM users WHERE admin", "VIEW public admins"),
    ],
)  # fmt: skip
def test_an_archive_with_more_than_tables_is_refused(url: str, planted: str, entry: str) -> None:
    used_hub_database(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(planted)
    engine.dispose()
    backup = backup_of(url)
    drop_everything(url)
    with pytest.raises(BackupError, match=f"holds more than a hub database's tables: '{entry}"):
        restore(url, io.BytesIO(backup))
    assert every_row(url) == {}


def test_a_truncated_backup_leaves_the_database_as_it_was(url: str) -> None:
    used_hub_database(url)
    before = every_row(url)
    backup = backup_of(url)
    with pytest.raises(BackupError, match="pg_restore failed"):
        restore(url, io.BytesIO(backup[: len(backup) * 2 // 3]), force=True)
    assert every_row(url) == before


def test_the_command_with_the_production_settings_backs_up_and_restores(
    url: str, production_environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    used_hub_database(url)
    before = every_row(url)
    out = io.BytesIO()
    assert main(["create", "-"], production_environment, stdout=out) == 0
    drop_everything(url)
    restored = main(["restore", "-"], production_environment, stdin=io.BytesIO(out.getvalue()))
    assert restored == 0
    assert every_row(url) == before
    assert migrations.main(production_environment) == 0
    # The password reached the tools through the environment, never in what they print.
    assert production_environment["JUPYTERHUB_K8S_DB_PASSWORD"] not in capsys.readouterr().err


def test_a_wrong_password_is_one_line(
    url: str, production_environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = {**production_environment, "JUPYTERHUB_K8S_DB_PASSWORD": "not-the-password"}
    assert main(["create", "-"], wrong, stdout=io.BytesIO()) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("hubconfig.backup: pg_dump failed: ")
    assert "password authentication failed" in line
    assert "not-the-password" not in line


def relabelled(archive: bytes, kind: bytes, disguise: bytes) -> bytes:
    """The archive with each entry of type `kind` labelled `disguise` (as long) in its table of
    contents: pg_dump writes a string as a sign byte, a 4-byte length, then its bytes."""
    assert len(kind) == len(disguise)
    label = b"\x00" + len(kind).to_bytes(4, "little")
    assert label + kind in archive
    return archive.replace(label + kind, label + disguise)


def test_an_archive_whose_entries_were_relabelled_is_refused_by_its_seal(
    url: str, production_environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """pg_restore runs the SQL an entry holds whatever type it is labelled with, and the listing
    shows the label: a function and a trigger relabelled as a sequence and a default pass the
    list of a hub's entries. The seal (an HMAC under the hub's crypt key) does not."""
    used_hub_database(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION everyone_admin() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN UPDATE users SET admin = true; RETURN NULL; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER everyone_admin AFTER INSERT ON users EXECUTE FUNCTION everyone_admin()"
        )
    engine.dispose()
    out = io.BytesIO()
    assert main(["create", "-"], production_environment, stdout=out) == 0
    crafted = relabelled(
        relabelled(out.getvalue(), b"FUNCTION", b"SEQUENCE"), b"TRIGGER", b"DEFAULT"
    )
    drop_everything(url)
    capsys.readouterr()
    assert main(["restore", "-"], production_environment, stdin=io.BytesIO(crafted)) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "hubconfig.backup: the backup's seal does not match the hub's crypt key: the file was "
        "changed after it was made, or a hub with another hub.crypt-key made it"
    )
    assert every_row(url) == {}


def test_a_bare_pg_dump_archive_is_not_restored_by_the_command(
    url: str, production_environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    used_hub_database(url)
    archive = backup_of(url)
    drop_everything(url)
    assert main(["restore", "-"], production_environment, stdin=io.BytesIO(archive)) == 1
    assert "it has no seal" in capsys.readouterr().err
    assert every_row(url) == {}
