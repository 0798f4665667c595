"""A launch asks the hub database about its account once, however many questions it has."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy
from inprocess_hub import HubUnderTest
from test_multilogin_lti11 import launch, signed


async def test_a_launch_looks_its_account_up_once(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
):
    assert (await launch(hub, signed(hub, username="returning"))).code == 302
    looked_up: list[str] = []
    authenticate = hub.authenticator.authenticate

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM users" in statement and "users.name = " in statement:
            looked_up.append(statement)

    async def authenticate_counting(handler: Any, data: Any = None) -> Any:
        engine = handler.db.get_bind()
        sqlalchemy.event.listen(engine, "before_cursor_execute", record)
        try:
            return await authenticate(handler, data)
        finally:
            sqlalchemy.event.remove(engine, "before_cursor_execute", record)

    monkeypatch.setattr(hub.authenticator, "authenticate", authenticate_counting)

    assert (await launch(hub, signed(hub, username="returning"))).code == 302

    assert len(looked_up) == 1
