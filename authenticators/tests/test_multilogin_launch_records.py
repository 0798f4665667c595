"""What a launch records in the hub database: its nonce with the login, in one transaction, and
its nonce alone when it is refused, fails or loses a race to link its identity."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy
from inprocess_hub import LTI11_KEY, LTI11_SECRET, HubUnderTest
from jupyterhub import orm
from multilogin_harness import moodle_lti11_params, moodle_user_id, random_nonce, sign_lti11
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


def decide_before_the_link_is_there(hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next launch decides without the identity's link, as the second of two launches at
    once does: neither saw the other's link when it decided; afterwards, the link is there."""
    link_of = hub.authenticator.identities.link_of
    looks = []

    def unseen_the_first_time(db: Any, identity: Any) -> Any:
        looks.append(identity)
        return None if len(looks) == 1 else link_of(db, identity)

    monkeypatch.setattr(hub.authenticator.identities, "link_of", unseen_the_first_time)


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
    decide_before_the_link_is_there(hub, monkeypatch)
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


def nonce_inserts(seen: list[str]) -> int:
    return seen.count("INSERT multilogin_used_nonces")


async def test_a_replay_is_refused_after_one_try_to_record_its_nonce(hub: HubUnderTest):
    body = signed(hub, username="student", nonce=random_nonce())
    assert (await launch(hub, body)).code == 302
    seen = writes_and_commits(hub)

    replay = await launch(hub, body)

    assert replay.code == 401
    assert nonce_inserts(seen) == 1


async def test_a_launch_whose_login_fails_unexpectedly_still_uses_its_nonce(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
):
    def broken_auth_model(*args: Any) -> dict[str, Any]:
        raise KeyError("an auth_state this release cannot read")

    monkeypatch.setattr(hub.authenticator, "_auth_model", broken_auth_model)
    body = signed(hub, username="student", nonce=random_nonce())
    failed = await launch(hub, body)
    assert failed.code == 500
    assert b"Traceback" not in failed.body

    monkeypatch.undo()
    replay = await launch(hub, body)

    assert replay.code == 401
    assert b"already used" in replay.body
    assert "student" not in hub.user_names()


async def test_a_database_error_in_the_login_is_a_503_and_leaves_the_hub_working(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
):
    assert (await launch(hub, signed(hub, username="student"))).code == 302
    previous_auth_state = hub.authenticator._previous_auth_state

    async def failed_flush(*args: Any) -> Any:
        # As when another hub process created the same account a moment earlier: the hub's
        # session is left needing a rollback.
        hub.app.db.add_all([orm.Group(name="twice"), orm.Group(name="twice")])
        hub.app.db.flush()

    monkeypatch.setattr(hub.authenticator, "_previous_auth_state", failed_flush)
    failed = await launch(hub, signed(hub, username="other"))
    assert failed.code == 503
    assert b"Try again in a moment" in failed.body

    monkeypatch.setattr(hub.authenticator, "_previous_auth_state", previous_auth_state)
    assert (await launch(hub, signed(hub, username="student"))).code == 302
    assert (await launch(hub, signed(hub, username="other"))).code == 302


async def test_a_launch_whose_identity_was_linked_elsewhere_meanwhile_is_refused(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
):
    assert (await launch(hub, signed(hub, username="student"))).code == 302
    decide_before_the_link_is_there(hub, monkeypatch)
    # The same Moodle person (user_id), now sending another username.
    params = {**moodle_lti11_params(username="renamed"), "user_id": moodle_user_id("student")}
    body = sign_lti11(hub.url("lti/launch"), params, LTI11_KEY, LTI11_SECRET)

    raced = await launch(hub, body)

    assert raced.code == 409
    assert b"open the link again" in raced.body
    assert "renamed" not in hub.user_names()
    (link,) = hub.authenticator.identities.links_of(hub.app.db, "student")
    assert link.identity.subject == moodle_user_id("student")
    assert (await launch(hub, body)).code == 401
