"""Creating our tables when another hub process creates them at the same moment (PostgreSQL).

The race itself runs against a real PostgreSQL in
integration/test_hub_tables_postgresql.py; which of its two refusals a lost race gets depends on
timing, so each is given here on purpose, and any other database error still stops the hub.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, ProgrammingError

from multilogin import hub_tables


def refusing_once(monkeypatch: pytest.MonkeyPatch, error: Exception) -> list[int]:
    calls: list[int] = []
    create_all = hub_tables.Base.metadata.create_all

    def create(engine: object, checkfirst: bool) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise error
        create_all(engine, checkfirst=checkfirst)

    monkeypatch.setattr(hub_tables.Base.metadata, "create_all", create)
    return calls


@pytest.mark.parametrize(
    "lost_race",
    [
        IntegrityError("CREATE TABLE", {}, SimpleNamespace(sqlstate="23505")),
        ProgrammingError("CREATE TABLE", {}, SimpleNamespace(sqlstate=hub_tables.DUPLICATE_TABLE)),
    ],
    ids=["catalog-unique-violation", "relation-already-exists"],
)
def test_a_table_another_hub_created_meanwhile_is_checked_again(
    monkeypatch: pytest.MonkeyPatch, lost_race: Exception
) -> None:
    calls = refusing_once(monkeypatch, lost_race)
    engine = create_engine("sqlite://")
    hub_tables.ensure_tables(engine)
    assert len(calls) == 2
    assert "multilogin_identities" in hub_tables.Base.metadata.tables


def test_other_database_errors_stop_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    syntax = ProgrammingError("CREATE TABLE", {}, SimpleNamespace(sqlstate="42601"))
    refusing_once(monkeypatch, syntax)
    with pytest.raises(ProgrammingError):
        hub_tables.ensure_tables(create_engine("sqlite://"))
