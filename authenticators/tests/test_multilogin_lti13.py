"""LTI 1.3 launches with a Moodle-like platform (real RS256 id_tokens, JWKS over HTTP)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives.asymmetric import rsa
from inprocess_hub import HubUnderTest, response_cookies
from multilogin_harness import (
    ROLE_ADMINISTRATOR,
    ROLE_INSTRUCTOR,
    form,
)


@dataclass
class StartedLaunch:
    """What the browser holds after the hub redirected it to the platform."""

    redirect: dict[str, str]
    cookies: dict[str, str]

    @property
    def nonce(self) -> str:
        return self.redirect["nonce"]

    @property
    def state(self) -> str:
        return self.redirect["state"]


async def start_launch(hub: HubUnderTest, target_link_uri: str | None = None) -> StartedLaunch:
    params = hub.platform.login_initiation(target_link_uri or hub.url("lti/launch"))
    response = await hub.request("lti13/oauth_login", "POST", form(params))
    assert response.code == 302, response.body
    location = urlparse(response.headers["Location"])
    redirect = {k: v[0] for k, v in parse_qs(location.query).items()}
    redirect["authorize_url"] = location._replace(query="").geturl()
    return StartedLaunch(redirect, response_cookies(response))


async def finish_launch(
    hub: HubUnderTest,
    started: StartedLaunch,
    id_token: str,
    path: str = "lti13/oauth_callback",
    state: str | None = None,
    accept: str = "text/html",
) -> Any:
    body = form({"id_token": id_token, "state": state or started.state})
    return await hub.request(
        path, "POST", body, cookies=started.cookies, headers={"Accept": accept}
    )


async def test_moodle_launch_logs_in_with_ext_username(hub: HubUnderTest):
    started = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce, username="Student"))

    response = await finish_launch(hub, started, token)

    assert response.code == 302
    user = hub.user("student")
    assert sorted(g.name for g in user.groups) == ["course-moodle.42"]
    auth_state = await user.get_auth_state()
    assert auth_state["login_source"] == "lti13"
    assert auth_state["course"] == {
        "context_id": "42",
        "title": "Data Science 101",
        "platform": "moodle",
        "key": "moodle/42",
    }


async def test_login_redirect_goes_to_the_platform_with_prefixed_callback(hub: HubUnderTest):
    started = await start_launch(hub)

    assert started.redirect["authorize_url"] == f"{hub.platform.issuer}/mod/lti/auth.php"
    assert started.redirect["redirect_uri"] == hub.url("lti13/oauth_callback")
    assert started.redirect["client_id"] == hub.platform.client_id
    assert started.redirect["response_mode"] == "form_post"


async def test_launch_target_accepts_the_id_token_too(hub: HubUnderTest):
    started = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce))

    response = await finish_launch(hub, started, token, path="lti/launch")

    assert response.code == 302
    assert hub.user_names() == {"student"}


async def test_next_in_target_link_uri_survives(hub: HubUnderTest):
    started = await start_launch(hub, hub.url("lti/launch?next=/prefix/hub/spawn"))
    token = hub.platform.id_token(hub.platform.claims(started.nonce))

    response = await finish_launch(hub, started, token)

    assert response.code == 302
    assert response.headers["Location"] == "/prefix/hub/spawn"


async def test_instructor_gets_instructor_but_administrator_never_admin(hub: HubUnderTest):
    started = await start_launch(hub)
    claims = hub.platform.claims(started.nonce, roles=[ROLE_INSTRUCTOR, ROLE_ADMINISTRATOR])

    assert (await finish_launch(hub, started, hub.platform.id_token(claims))).code == 302

    user = hub.user("student")
    assert sorted(g.name for g in user.groups) == ["course-moodle.42", "instructor"]
    assert not user.admin


async def refused(hub: HubUnderTest, response: Any, status: int, text: bytes) -> None:
    assert response.code == status, response.body
    assert text in response.body
    assert hub.user_names() == set()


async def test_bad_signature_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = hub.platform.id_token(hub.platform.claims(started.nonce), key=other_key)

    await refused(hub, await finish_launch(hub, started, token), 401, b"could not be verified")


async def test_wrong_audience_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    claims = {**hub.platform.claims(started.nonce), "aud": "another-tool"}

    response = await finish_launch(hub, started, hub.platform.id_token(claims))

    await refused(hub, response, 401, b"meant for another tool")


async def test_unknown_issuer_is_refused_at_login_initiation(hub: HubUnderTest):
    params = hub.platform.login_initiation(hub.url("lti/launch"), iss="https://other.example")

    response = await hub.request("lti13/oauth_login", "POST", form(params))

    await refused(hub, response, 401, b"unknown platform")


async def test_token_from_unknown_issuer_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    claims = {**hub.platform.claims(started.nonce), "iss": "https://other.example"}

    response = await finish_launch(hub, started, hub.platform.id_token(claims))

    await refused(hub, response, 401, b"unknown platform")


async def test_unknown_deployment_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    claims = hub.platform.claims(started.nonce)
    claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "99"

    response = await finish_launch(hub, started, hub.platform.id_token(claims))

    await refused(hub, response, 401, b"deployment")


async def test_missing_nonce_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    claims = hub.platform.claims(started.nonce)
    del claims["nonce"]

    response = await finish_launch(hub, started, hub.platform.id_token(claims))

    await refused(hub, response, 400, b"not valid")


async def test_reused_nonce_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce))
    assert (await finish_launch(hub, started, token)).code == 302

    # The replay brings everything the first launch had: token, state and cookies.
    response = await finish_launch(hub, started, token)

    assert response.code == 401
    assert b"already used" in response.body


async def test_state_mismatch_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    other = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce))

    response = await finish_launch(hub, started, token, state=other.state)

    await refused(hub, response, 400, b"did not return to the browser")


async def test_expired_token_is_refused(hub: HubUnderTest):
    started = await start_launch(hub)
    past = int(time.time()) - 3600
    claims = {**hub.platform.claims(started.nonce), "iat": past - 60, "exp": past}

    response = await finish_launch(hub, started, hub.platform.id_token(claims))

    await refused(hub, response, 401, b"expired")


async def test_refusal_answers_json_to_api_clients(hub: HubUnderTest):
    started = await start_launch(hub)
    claims = {**hub.platform.claims(started.nonce), "aud": "another-tool"}

    response = await finish_launch(
        hub, started, hub.platform.id_token(claims), accept="application/json"
    )

    assert response.code == 401
    assert response.headers["Content-Type"].startswith("application/json")


async def test_tool_configuration_uses_the_url_prefix(hub: HubUnderTest):
    import json

    response = await hub.request("lti13/config")

    config = json.loads(response.body)
    assert config["oidc_initiation_url"] == hub.url("lti13/oauth_login")
    assert config["target_link_uri"] == hub.url("lti/launch")
    assert hub.url("lti13/oauth_callback") in config["redirect_uris"]


async def test_state_cookies_survive_a_cross_site_launch_over_https(hub: HubUnderTest):
    params = hub.platform.login_initiation(hub.url("lti/launch"))

    response = await hub.request(
        "lti13/oauth_login", "POST", form(params), headers={"X-Forwarded-Proto": "https"}
    )

    assert response.code == 302
    state_cookies = [
        c for c in response.headers.get_list("Set-Cookie") if "lti13authenticator" in c
    ]
    assert len(state_cookies) == 2
    for cookie in state_cookies:
        assert "SameSite=None" in cookie
        assert "Secure" in cookie
    redirect_uri = parse_qs(urlparse(response.headers["Location"]).query)["redirect_uri"][0]
    assert redirect_uri.startswith("https://")


async def framed_initiation(hub: HubUnderTest, **extra: str) -> Any:
    params = {**hub.platform.login_initiation(hub.url("lti/launch")), **extra}
    return await hub.request(
        "lti13/oauth_login",
        "POST",
        form(params),
        headers={"Sec-Fetch-Dest": "iframe", "X-Forwarded-Proto": "https"},
    )


async def test_a_framed_initiation_gets_a_page_the_platform_may_frame(hub: HubUnderTest):
    response = await framed_initiation(hub)

    assert response.code == 200
    page = response.body.decode()
    assert 'id="multilogin-framed"' in page
    assert 'target="_blank"' in page
    # Over HTTPS (the proxy's X-Forwarded-Proto), the new window starts over HTTPS too.
    login_url = hub.url("lti13/oauth_login").replace("http://", "https://", 1)
    assert f'action="{login_url}"' in page
    platform_origin = "://".join(urlparse(hub.platform.trusted_entry()["authorize_url"])[:2])
    csp = response.headers["Content-Security-Policy"]
    assert csp == f"frame-ancestors 'self' {platform_origin}"
    # Nothing started: no state or nonce cookies, no redirect to the platform.
    assert not [c for c in response.headers.get_list("Set-Cookie") if "lti13" in c]
    assert "Location" not in response.headers


async def test_a_framed_initiation_carries_hostile_fields_escaped(hub: HubUnderTest):
    response = await framed_initiation(hub, lti_message_hint='"><script>alert(1)</script>')

    page = response.body.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_a_framed_initiation_from_an_unknown_issuer_is_refused(hub: HubUnderTest):
    response = await framed_initiation(hub, iss="https://evil.example")

    assert response.code == 401
    assert 'id="multilogin-framed"' not in response.body.decode()
