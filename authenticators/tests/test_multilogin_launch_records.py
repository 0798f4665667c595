"""What a launch records in the hub database: its nonce with the login, in one transaction, and
its nonce alone when it is refused or loses a race to link its identity."""

from __future__ import annotations

import pytest
import sqlalchemy
from inprocess_hub import HubUnderTest
from multilogin_harness import random_nonce
from test_multilogin_lti11 import launch, signed


def writes_and_commits(hub: HubUnderTest) -> list[str]:
    """From now on, each INSERT or UPDATE of a multilogin table, and each commit, in order."""
    engine = hub.app.db.get_bind()
    seen: list[str] = []

    def statement(conn: object, cursor: object, text: str, *args: object) -> None:
        words = text.split()
        if words[0] in {"INSERT", "UPDATE"} and any(w.startswith("multilogin_") for w in words):
            seen.append(f"{words[0]} {next(w for w in words if w.startswith('multilogin_'))}")

    sqlalchemy.event.listen(engine, "before_cursor_execute", statement)
    sqlalchemy.event.listen(engine, "commit", lambda conn: seen.append("COMMIT"))
    return seen


@pytest.mark.parametrize(
    ("earlier_launches", "login_write"),
    [(0, "INSERT multilogin_identities"), (1, "UPDATE multilogin_identities")],
    ids=["first launch: the new link", "returning: the last login"],
)
async def test_a_launch_records_its_nonce_and_login_in_one_transaction(
    hub: HubUnderTest, earlier_launches: int, login_write: str
):
    for _ in range(earlier_launches):
        assert (await launch(hub, signed(hub, username="student"))).code == 302
    seen = writes_and_commits(hub)

    assert (await launch(hub, signed(hub, username="student"))).code == 302

    ours = seen.index("INSERT multilogin_used_nonces")
    assert seen[ours : ours + 3] == ["INSERT multilogin_used_nonces", login_write, "COMMIT"]


async def test_a_launch_that_loses_the_race_to_link_still_signs_in_and_uses_its_nonce(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
):
    assert (await launch(hub, signed(hub, username="student"))).code == 302
    # As for the second of two launches at once: neither saw the other's link when it decided.
    monkeypatch.setattr(hub.authenticator.identities, "link_of", lambda db, identity: None)
    body = signed(hub, username="student", nonce=random_nonce())

    assert (await launch(hub, body)).code == 302
    replay = await launch(hub, body)

    assert replay.code == 401
    assert b"already used" in replay.body
    (link,) = hub.authenticator.identities.links_of(hub.app.db, "student")
    assert link.username == "student"


async def test_a_refused_launch_cannot_be_replayed_once_it_would_be_let_in(hub: HubUnderTest):
    hub.authenticator.blocked_users = {"student"}
    body = signed(hub, username="student", nonce=random_nonce())
    assert (await launch(hub, body)).code == 403

    hub.authenticator.blocked_users = set()
    replay = await launch(hub, body)

    assert replay.code == 401
    assert b"already used" in replay.body
    assert "student" not in hub.user_names()
