"""LTI 1.1 launches that try to break the hub: each is refused with a clear 4xx, leaks nothing
to the log and leaves the hub's own database session alone."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any
from urllib.parse import quote

import pytest
from inprocess_hub import LTI11_KEY, LTI11_SECRET, HubUnderTest, record_launches
from jupyterhub import orm
from multilogin_harness import moodle_lti11_params, random_nonce, sign_lti11
from sqlalchemy import text


async def launch(hub: HubUnderTest, body: str | bytes, url: str | None = None) -> Any:
    return await hub.request(url or "lti/launch", "POST", body, headers={"Accept": "text/html"})


def signed(hub: HubUnderTest, secret: str = LTI11_SECRET, **params: str) -> str:
    nonce = params.pop("oauth_nonce", None)
    return sign_lti11(
        hub.url("lti/launch"), moodle_lti11_params(**params), LTI11_KEY, secret, nonce=nonce
    )


def replace_param(body: str, name: str, value: str) -> str:
    return "&".join(
        f"{name}={quote(value, safe='')}" if part.startswith(f"{name}=") else part
        for part in body.split("&")
    )


async def test_debug_log_never_shows_a_signature_or_the_secret(
    hub: HubUnderTest, caplog: pytest.LogCaptureFixture
):
    good = signed(hub)
    expected_signature = next(
        part.split("=", 1)[1] for part in good.split("&") if part.startswith("oauth_signature=")
    )
    forged = replace_param(good, "oauth_signature", "forged")

    with caplog.at_level(logging.DEBUG):
        caplog.clear()  # the test's own signing (oauthlib) logged the signature it made
        response = await launch(hub, forged)

    assert response.code == 401
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Login refused" in logged  # the capture did see the hub's log
    for secret_text in (expected_signature, quote(expected_signature, safe=""), LTI11_SECRET):
        assert secret_text not in logged
    assert "signature:" not in logged.lower()
    assert "oauth_consumer_key%3D" not in logged  # no signature base string either


async def test_junk_launches_do_not_open_a_replay(hub: HubUnderTest):
    """Unsigned launches must not be able to flush what remembers used nonces."""
    body = signed(hub, oauth_nonce=random_nonce())
    assert (await launch(hub, body)).code == 302
    for _ in range(50):
        junk = replace_param(signed(hub, oauth_nonce=random_nonce()), "oauth_signature", "x")
        assert (await launch(hub, junk)).code == 401

    response = await launch(hub, body)

    assert response.code == 401
    assert b"already used" in response.body


@pytest.mark.parametrize("timestamp", ["abc", "1e9", "", "99999999999999999999", "-1"])
async def test_malformed_timestamp_is_a_clear_refusal(hub: HubUnderTest, timestamp: str):
    body = replace_param(signed(hub), "oauth_timestamp", timestamp)

    response = await launch(hub, body)

    assert response.code in (400, 401), response.body
    assert b"Moodle" in response.body
    assert hub.user_names() == set()


async def test_duplicated_parameter_is_refused(hub: HubUnderTest):
    body = signed(hub, username="student") + "&ext_user_username=teacher"

    response = await launch(hub, body)

    assert response.code == 400
    assert b"more than once" in response.body
    assert hub.user_names() == set()


async def test_parameter_in_both_query_and_body_is_refused(hub: HubUnderTest):
    response = await launch(hub, signed(hub), url="lti/launch?ext_user_username=teacher")

    assert response.code == 400
    assert b"more than once" in response.body
    assert hub.user_names() == set()


async def test_non_utf8_body_is_refused(hub: HubUnderTest):
    body = signed(hub).encode() + b"&context_title=%ff%fe"

    response = await launch(hub, body)

    assert response.code == 400
    assert b"UTF-8" in response.body
    assert hub.user_names() == set()


@pytest.mark.parametrize(
    ("name", "value"), [("oauth_signature_method", "PLAINTEXT"), ("oauth_version", "2.0")]
)
async def test_other_oauth_flavours_are_refused(hub: HubUnderTest, name: str, value: str):
    response = await launch(hub, replace_param(signed(hub), name, value))

    assert response.code == 400
    assert b"HMAC-SHA1" in response.body
    assert hub.user_names() == set()


async def test_nonce_longer_than_its_column_is_stored_as_a_digest(hub: HubUnderTest):
    """The nonce column holds a SHA-256 digest, so a signed 10 kB nonce fits on PostgreSQL
    (VARCHAR(255)) and is still refused when replayed."""
    body = signed(hub, oauth_nonce="n" * 10_000)
    assert (await launch(hub, body)).code == 302

    response = await launch(hub, body)

    assert response.code == 401
    assert b"already used" in response.body
    stored = hub.app.db.execute(text("SELECT nonce FROM multilogin_used_nonces")).scalars()
    assert all(len(value) <= 255 for value in stored)


async def test_replayed_launch_leaves_pending_hub_changes_alone(hub: HubUnderTest):
    body = signed(hub, oauth_nonce=random_nonce())
    assert (await launch(hub, body)).code == 302
    pending = orm.Group(name="pending-elsewhere")
    hub.app.db.add(pending)

    response = await launch(hub, body)

    assert response.code == 401
    assert pending in hub.app.db.new
    hub.app.db.commit()
    assert hub.app.db.query(orm.Group).filter_by(name="pending-elsewhere").one()


async def test_validated_launch_names_the_person_at_the_consumer(
    hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch
):
    seen = record_launches(hub, monkeypatch)

    response = await launch(hub, signed(hub, user_id="u-77", username="Ada"))

    assert response.code == 302
    assert [(v.issuer, v.client_id, v.subject, v.username) for v in seen] == [
        (LTI11_KEY, "", "u-77", "Ada")
    ]


async def test_stale_timestamp_is_still_refused(hub: HubUnderTest):
    body = sign_lti11(
        hub.url("lti/launch"),
        moodle_lti11_params(),
        LTI11_KEY,
        LTI11_SECRET,
        timestamp=int(time.time()) - 31,
    )

    response = await launch(hub, body)

    assert response.code == 401
    assert b"expired" in response.body


@pytest.mark.parametrize("username", ["a" * 256, "ad\ta"])
async def test_username_the_hub_cannot_hold_is_a_clear_refusal(hub: HubUnderTest, username: str):
    response = await launch(hub, signed(hub, username=username))

    assert response.code == 400, response.body
    assert b"cannot be used on this hub" in response.body
    assert hub.user_names() == set()


async def test_nul_character_is_refused(hub: HubUnderTest):
    """PostgreSQL text cannot hold NUL; Moodle never sends one."""
    response = await launch(hub, signed(hub, context_id="4\x002"))

    assert response.code == 400
    assert b"Moodle" in response.body
    assert hub.user_names() == set()


async def test_database_that_cannot_record_the_nonce_is_a_clear_503(
    hub: HubUnderTest, hub_db_url: str
):
    """Another process holding the SQLite write lock past the busy timeout: try again later."""
    blocker = sqlite3.connect(hub_db_url.removeprefix("sqlite:///"), timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        response = await launch(hub, signed(hub))
    finally:
        blocker.rollback()
        blocker.close()

    assert response.code == 503, response.body
    assert b"Try again" in response.body
