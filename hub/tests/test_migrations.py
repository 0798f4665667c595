"""hubconfig.migrations: the "is this hub database migrated" check, on SQLite files.

The same check against PostgreSQL: authenticators/tests/integration/test_hub_tables_postgresql.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from hub_fakes import sqlite_hub_environment
from jupyterhub import orm
from sqlalchemy import create_engine, text

from hubconfig import migrations
from multilogin.hub_tables import ensure_tables


def started_hub_database(url: str) -> None:
    """What a hub start leaves behind: JupyterHub's schema stamped at head, and our tables (made
    on their first use)."""
    orm.new_session_factory(url)
    engine = create_engine(url)
    ensure_tables(engine)
    engine.dispose()


def execute(url: str, statement: str, **parameters: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(statement), parameters)
    engine.dispose()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite'}"


def test_a_started_hubs_database_is_migrated(url: str) -> None:
    started_hub_database(url)
    assert migrations.problems(url) == []


def test_a_database_no_hub_started_on_is_not(url: str) -> None:
    execute(url, "CREATE TABLE unrelated (id INTEGER)")
    assert migrations.problems(url) == [
        "no alembic_version table: JupyterHub has not started on this database"
    ]


def test_a_database_at_the_previous_revision_is_not(url: str) -> None:
    started_hub_database(url)
    head = migrations.alembic_head()
    scripts = ScriptDirectory(str(Path(orm.__file__).parent / "alembic"))
    previous = scripts.get_revision(head).down_revision
    execute(url, "UPDATE alembic_version SET version_num = :previous", previous=previous)
    (problem,) = migrations.problems(url)
    assert f"alembic version is {previous}" in problem
    assert f"head is {head}" in problem


def test_missing_tables_and_columns_are_named(url: str) -> None:
    started_hub_database(url)
    execute(url, "DROP TABLE multilogin_used_nonces")
    execute(url, "ALTER TABLE multilogin_identities DROP COLUMN last_login_at")
    execute(url, "DROP TABLE users")
    found = migrations.problems(url)
    assert "JupyterHub's table users is missing" in found
    assert "multilogin's table multilogin_used_nonces is missing" in found
    assert "multilogin's table multilogin_identities lacks the columns last_login_at" in found


def test_an_unreadable_database_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    (problem,) = migrations.problems(f"sqlite:///{tmp_path / 'no-such-folder' / 'hub.sqlite'}")
    assert problem.startswith("cannot read the database: OperationalError")


def test_the_command_checks_the_database_the_hub_configuration_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = sqlite_hub_environment(tmp_path, monkeypatch)
    assert migrations.main(environment) == 1
    assert "not migrated: no alembic_version table" in capsys.readouterr().err
    started_hub_database("sqlite:///jupyterhub.sqlite")
    assert migrations.main(environment) == 0
    assert f"migrated: alembic head {migrations.alembic_head()}" in capsys.readouterr().out


def test_the_command_without_the_hubs_environment_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert migrations.main({}) == 2
    assert "the hub's environment lacks" in capsys.readouterr().err
