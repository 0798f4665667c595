"""A launch asks the hub database about its account once, however many questions it has."""

from __future__ import annotations

from typing import Any

import pytest
from inprocess_hub import HubUnderTest
from jupyterhub import orm
from test_multilogin_lti11 import launch, signed


async def test_a_launch_looks_its_account_up_once(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
):
    assert (await launch(hub, signed(hub, username="returning"))).code == 302
    looked_up: list[str] = []
    find = orm.User.find.__func__
    authenticate = hub.authenticator.authenticate

    def counting_find(cls: type, db: Any, name: str) -> Any:
        looked_up.append(name)
        return find(cls, db, name)

    async def authenticate_counting(handler: Any, data: Any = None) -> Any:
        with monkeypatch.context() as patch:
            patch.setattr(orm.User, "find", classmethod(counting_find))
            return await authenticate(handler, data)

    monkeypatch.setattr(hub.authenticator, "authenticate", authenticate_counting)

    assert (await launch(hub, signed(hub, username="returning"))).code == 302

    assert looked_up == ["returning"]
