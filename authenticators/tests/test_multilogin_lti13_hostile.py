"""LTI 1.3 launches that try to break the hub, and launches that must keep working: usernames
from Moodle's own claim, one state value, odd claim types, two tabs, the identity fields."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from inprocess_hub import HubUnderTest, record_launches
from jupyterhub import orm
from multilogin_harness import CLAIM, form
from test_multilogin_lti13 import finish_launch, refused, start_launch

from multilogin.launches import ValidatedLaunch


async def launch_with(hub: HubUnderTest, **overrides: Any) -> Any:
    started = await start_launch(hub)
    claims = {**hub.platform.claims(started.nonce), **overrides}
    return await finish_launch(hub, started, hub.platform.id_token(claims))


async def test_ext_username_wins_when_custom_username_agrees(hub: HubUnderTest):
    response = await launch_with(
        hub,
        **{
            CLAIM + "ext": {"user_username": "Ada"},
            CLAIM + "custom": {"username": "ada"},
        },
    )

    assert response.code == 302
    assert hub.user_names() == {"ada"}


async def test_custom_username_that_disagrees_with_moodle_is_refused(hub: HubUnderTest):
    """A teacher can set custom parameters on an activity; Moodle's ext claim cannot be set."""
    response = await launch_with(
        hub,
        **{
            CLAIM + "ext": {"user_username": "student"},
            CLAIM + "custom": {"username": "professor"},
        },
    )

    await refused(hub, response, 400, b"do not agree")


async def test_custom_username_counts_only_without_the_ext_claim(hub: HubUnderTest):
    claims_without_ext = {CLAIM + "ext": {"lms": "moodle-2"}, CLAIM + "custom": {"username": "Bo"}}

    response = await launch_with(hub, **claims_without_ext)

    assert response.code == 302
    assert hub.user_names() == {"bo"}


async def test_forged_query_state_cannot_choose_next(hub: HubUnderTest):
    started = await start_launch(hub)
    other = await start_launch(hub, hub.url("lti/launch?next=https://evil.example/"))
    token = hub.platform.id_token(hub.platform.claims(started.nonce))
    body = form({"id_token": token, "state": started.state})

    response = await hub.request(
        f"lti13/oauth_callback?state={other.state}", "POST", body, cookies=started.cookies
    )

    await refused(hub, response, 400, b"more than once")


async def test_state_twice_in_the_body_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce))
    body = form({"id_token": token, "state": started.state}) + f"&state={started.state}"

    response = await hub.request("lti13/oauth_callback", "POST", body, cookies=started.cookies)

    await refused(hub, response, 400, b"more than once")


async def test_state_that_is_not_ours_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce))

    response = await finish_launch(hub, started, token, state="not-base64-json!")

    await refused(hub, response, 400, b"did not return to the browser")


@pytest.mark.parametrize(
    "claims",
    [
        {CLAIM + "roles": "Instructor"},
        {CLAIM + "roles": [{"role": "Instructor"}]},
        {CLAIM + "custom": ["username", "x"]},
        {CLAIM + "custom": {"next": {"url": "/"}}},
        {CLAIM + "context": "42"},
        {CLAIM + "context": {"id": {"x": 1}, "label": "L", "title": "T"}},
        {CLAIM + "context": {"id": "42", "label": "L", "title": ["T"]}},
        {CLAIM + "resource_link": "7"},
        {CLAIM + "ext": "student"},
        {CLAIM + "deployment_id": {"id": "1"}},
        {"nonce": {"n": 1}},
        {"azp": ["hub-client"]},
    ],
    ids=lambda claims: next(iter(claims)).removeprefix(CLAIM),
)
async def test_claim_of_the_wrong_type_is_a_clear_refusal(hub: HubUnderTest, claims: dict):
    response = await launch_with(hub, **claims)

    assert response.code in (400, 401), response.body
    assert b"Moodle" in response.body
    assert hub.user_names() == set()


async def test_two_tabs_of_one_browser_both_launch(hub: HubUnderTest):
    first = await start_launch(hub)
    second = await start_launch(hub)
    cookies = {**first.cookies, **second.cookies}
    first.cookies = second.cookies = cookies

    first_token = hub.platform.id_token(hub.platform.claims(first.nonce, username="ada"))
    second_token = hub.platform.id_token(hub.platform.claims(second.nonce, username="ada"))
    first_response = await finish_launch(hub, first, first_token)
    second_response = await finish_launch(hub, second, second_token)

    assert (first_response.code, second_response.code) == (302, 302), second_response.body


async def test_reused_launch_leaves_pending_hub_changes_alone(hub: HubUnderTest):
    started = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce))
    assert (await finish_launch(hub, started, token)).code == 302
    pending = orm.Group(name="pending-elsewhere")
    hub.app.db.add(pending)

    response = await finish_launch(hub, started, token)

    assert response.code == 401
    assert pending in hub.app.db.new
    hub.app.db.commit()
    assert hub.app.db.query(orm.Group).filter_by(name="pending-elsewhere").one()


@pytest.mark.parametrize("nonce", ["n" * 10_000, "nonce-\u00e9"], ids=["overlong", "non-ascii"])
async def test_odd_nonce_is_stored_as_a_digest_and_refused(hub: HubUnderTest, nonce: str):
    started = await start_launch(hub)
    claims = hub.platform.claims(started.nonce)
    token = hub.platform.id_token({**claims, "nonce": nonce})

    response = await finish_launch(hub, started, token)

    # Recorded (as a digest) before the cookie check, then refused for not matching the cookie.
    await refused(hub, response, 400, b"did not return to the browser")


@pytest.fixture
def seen_launches(hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch) -> list[ValidatedLaunch]:
    return record_launches(hub, monkeypatch)


async def test_validated_launch_names_the_person_at_the_platform(
    hub: HubUnderTest, seen_launches: list[ValidatedLaunch]
):
    response = await launch_with(hub, sub="sub-9", aud=[hub.platform.client_id])

    assert response.code == 302
    assert [(v.issuer, v.client_id, v.subject, v.username) for v in seen_launches] == [
        (hub.platform.issuer, hub.platform.client_id, "sub-9", "student")
    ]


async def test_client_id_is_the_authorized_party_when_there_are_several_audiences(
    hub: HubUnderTest, seen_launches: list[ValidatedLaunch]
):
    client_id = hub.platform.client_id
    response = await launch_with(hub, aud=["someone-else", client_id], azp=client_id)

    assert response.code == 302
    assert [v.client_id for v in seen_launches] == [client_id]


@pytest.mark.parametrize("username", ["a" * 256, "ad\ta"])
async def test_username_the_hub_cannot_hold_is_a_clear_refusal(hub: HubUnderTest, username: str):
    response = await launch_with(hub, **{CLAIM + "ext": {"user_username": username}})

    await refused(hub, response, 400, b"cannot be used on this hub")


async def test_nul_character_in_a_claim_is_refused(hub: HubUnderTest):
    context = {"id": "4\x002", "label": "DS101", "title": "Data Science 101"}

    response = await launch_with(hub, **{CLAIM + "context": context})

    await refused(hub, response, 400, b"Moodle")


async def test_token_for_another_authorized_party_is_refused(hub: HubUnderTest):
    response = await launch_with(hub, azp="another-tool")

    await refused(hub, response, 401, b"meant for another tool")


async def test_an_abandoned_launch_leaves_its_cookies_for_minutes_not_a_day(hub: HubUnderTest):
    """Cookies are named per launch; a browser that starts many must not collect them all."""
    params = hub.platform.login_initiation(hub.url("lti/launch"))

    response = await hub.request("lti13/oauth_login", "POST", form(params))

    launch_cookies = [
        c for c in response.headers.get_list("Set-Cookie") if c.startswith("lti13authenticator")
    ]
    assert len(launch_cookies) == 2
    for cookie in launch_cookies:
        assert "Max-Age=600" in cookie
        assert "expires=" not in cookie.lower()


async def test_deeply_nested_state_or_token_is_a_clear_refusal(hub: HubUnderTest):
    started = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce))
    nested = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode()
    deep_token = f"eyJhbGciOiJSUzI1NiJ9.{nested.rstrip('=')}.c2ln"

    state_response = await finish_launch(hub, started, token, state=nested)
    token_response = await finish_launch(hub, started, deep_token)

    assert (state_response.code, token_response.code) == (400, 400)
    assert hub.user_names() == set()
