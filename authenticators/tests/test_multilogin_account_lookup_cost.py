"""A launch looks up the account it lands in with one statement: JupyterHub's find_user query
has SQLAlchemy fetch the account's roles, groups and shares again, loaded or not."""

from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy
from inprocess_hub import HubUnderTest
from test_multilogin_lti11 import launch, signed

from multilogin.authenticator import _user_lookup


def statements(hub: HubUnderTest, name: str) -> tuple[object, list[str]]:
    handler = SimpleNamespace(db=hub.app.db, users=hub.app.users)
    engine = hub.app.db.get_bind()
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        # JupyterHub pings a connection when it is checked out.
        if statement != "SELECT 1":
            seen.append(statement)

    sqlalchemy.event.listen(engine, "before_cursor_execute", record)
    try:
        found = _user_lookup(handler)(name)
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", record)
    return found, seen


async def test_an_existing_account_is_found_with_one_statement(hub: HubUnderTest):
    assert (await launch(hub, signed(hub, username="student"))).code == 302

    found, seen = statements(hub, "student")

    assert found is not None and found.name == "student"
    assert found.orm_user is hub.app.users[found.id].orm_user
    assert len(seen) == 1


async def test_a_missing_account_is_none(hub: HubUnderTest):
    found, seen = statements(hub, "nobody")

    assert (found, len(seen)) == (None, 1)
