"""Keycloak logins through the hub's routes, with Keycloak's token and userinfo responses."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlparse

from inprocess_hub import LTI11_KEY, LTI11_SECRET, HubUnderTest, response_cookies
from multilogin_harness import moodle_lti11_params, sign_lti11


async def keycloak_login(
    hub: HubUnderTest, username: str, groups: list[str], next_url: str = "", **kw: Any
) -> Any:
    """The browser's round trip: /hub/oauth_login, Keycloak, /hub/oauth_callback."""
    query = f"?next={quote(next_url)}" if next_url else ""
    started = await hub.request(f"oauth_login{query}")
    assert started.code == 302, started.body
    state = parse_qs(urlparse(started.headers["Location"]).query)["state"][0]
    code = hub.keycloak.code_for(username, groups)
    params = {"code": code, "state": kw.get("state", state), "session_state": "x"}
    return await hub.request(
        f"oauth_callback?{urlencode(params)}",
        cookies=response_cookies(started),
        headers={"Accept": kw.get("accept", "text/html")},
    )


async def test_login_page_has_a_keycloak_button_and_lti_text_and_keeps_next(hub: HubUnderTest):
    response = await hub.request("login?next=/prefix/hub/spawn")

    assert response.code == 200
    assert b'href="/prefix/hub/oauth_login?next=%2Fprefix%2Fhub%2Fspawn"' in response.body
    assert b"Open the JupyterHub link in your Moodle course" in response.body


async def test_redirect_to_keycloak_uses_the_prefixed_callback(hub: HubUnderTest):
    response = await hub.request("oauth_login")

    location = urlparse(response.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/realms/campus/protocol/openid-connect/auth"
    assert query["redirect_uri"] == [hub.url("oauth_callback")]
    assert query["client_id"] == ["jupyterhub"]


async def test_callback_url_takes_the_forwarded_scheme_but_never_a_forwarded_host(
    hub: HubUnderTest,
):
    # Without JupyterHub.public_url, as in this hub: the request's Host header names the host.
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "attacker.example"}

    response = await hub.request("oauth_login", headers=headers)

    redirect_uri = parse_qs(urlparse(response.headers["Location"]).query)["redirect_uri"][0]
    assert redirect_uri == "https://" + hub.url("oauth_callback").removeprefix("http://")


async def test_admin_group_makes_an_admin_and_next_survives(hub: HubUnderTest):
    response = await keycloak_login(hub, "Admin", ["admins"], next_url="/prefix/hub/admin")

    assert response.code == 302
    assert response.headers["Location"] == "/prefix/hub/admin"
    user = hub.user("admin")
    assert user.admin
    assert [g.name for g in user.groups] == ["admin"]
    auth_state = await user.get_auth_state()
    assert auth_state["login_source"] == "keycloak"
    assert auth_state["entitlements"] == ["admin"]
    assert auth_state["course"] is None
    assert auth_state["lti_roles"] == []
    assert auth_state["access_token"] and auth_state["refresh_token"]


async def test_gpu_group_is_granted_from_full_group_paths(hub: HubUnderTest):
    assert (await keycloak_login(hub, "gpu-student", ["/students", "/gpu"])).code == 302

    assert [g.name for g in hub.user("gpu-student").groups] == ["gpu"]


async def test_user_outside_allowed_groups_is_refused(hub: HubUnderTest):
    response = await keycloak_login(hub, "outsider", [])

    assert response.code == 403
    assert b"not allowed to use this hub" in response.body
    assert hub.user_names() == set()


async def test_state_mismatch_is_refused(hub: HubUnderTest):
    response = await keycloak_login(hub, "student", ["students"], state="forged")

    assert response.code == 400
    assert hub.user_names() == set()


async def test_keycloak_unreachable_is_a_clear_503(hub: HubUnderTest):
    hub.keycloak.stop()

    response = await keycloak_login(hub, "student", ["students"], accept="application/json")

    assert response.code == 503
    assert b"cannot be reached" in response.body
    assert hub.user_names() == set()


async def test_same_person_via_keycloak_then_moodle_is_one_user(hub: HubUnderTest):
    assert (await keycloak_login(hub, "GPU-Student", ["students", "gpu"])).code == 302
    body = sign_lti11(
        hub.url("lti/launch"), moodle_lti11_params(username="gpu-student"), LTI11_KEY, LTI11_SECRET
    )

    response = await hub.request("lti/launch", "POST", body)

    assert response.code == 302
    assert hub.user_names() == {"gpu-student"}
    user = hub.user("gpu-student")
    assert sorted(g.name for g in user.groups) == ["course-moodle.42", "gpu"]
    assert (await user.get_auth_state())["login_source"] == "lti11"


async def test_starting_a_campus_login_leaves_the_signed_in_session_alone(hub: HubUnderTest):
    """The redirect to Keycloak is oauthenticator's handler reading KeycloakLogin; the session
    it sees must not be refreshed through KeycloakLogin, which knows nothing of LTI logins."""
    assert (await keycloak_login(hub, "gpu-student", ["students", "gpu"])).code == 302
    body = sign_lti11(
        hub.url("lti/launch"), moodle_lti11_params(username="gpu-student"), LTI11_KEY, LTI11_SECRET
    )
    launched = await hub.request("lti/launch", "POST", body)
    # Due for a refresh: JupyterHub refreshes a signed-in user at their next request.
    hub.user("gpu-student")._auth_refreshed = None

    response = await hub.request("oauth_login", cookies=response_cookies(launched))

    assert response.code == 302
    user = hub.user("gpu-student")
    assert (await user.get_auth_state())["login_source"] == "lti11"
    assert sorted(g.name for g in user.groups) == ["course-moodle.42", "gpu"]


async def test_admin_is_lost_with_the_keycloak_group(hub: HubUnderTest):
    assert (await keycloak_login(hub, "admin", ["admins"])).code == 302
    assert hub.user("admin").admin

    assert (await keycloak_login(hub, "admin", ["students"])).code == 302

    user = hub.user("admin")
    assert not user.admin
    assert [g.name for g in user.groups] == []


async def logout(hub: HubUnderTest, signed_in: Any) -> Any:
    """GET /hub/logout with the cookies a login response set."""
    response = await hub.request("logout", cookies=response_cookies(signed_in))
    assert response.code == 302, response.body
    return response


async def test_logout_ends_the_keycloak_session_and_returns_to_the_login_page(hub: HubUnderTest):
    signed_in = await keycloak_login(hub, "student", ["students"])

    response = await logout(hub, signed_in)

    location = urlparse(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == hub.keycloak.url
    assert location.path == "/realms/campus/protocol/openid-connect/logout"
    assert parse_qs(location.query) == {
        "client_id": ["jupyterhub"],
        "post_logout_redirect_uri": [hub.url("login")],
        "id_token_hint": ["id-token-of-student"],
    }
    assert response_cookies(response)["jupyterhub-hub-login"] == ""


async def test_logout_of_a_moodle_session_after_a_campus_login_ends_that_login_too(
    hub: HubUnderTest,
):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    body = sign_lti11(hub.url("lti/launch"), moodle_lti11_params(), LTI11_KEY, LTI11_SECRET)
    launched = await hub.request("lti/launch", "POST", body)

    response = await logout(hub, launched)

    location = urlparse(response.headers["Location"])
    assert location.path == "/realms/campus/protocol/openid-connect/logout"
    assert parse_qs(location.query)["id_token_hint"] == ["id-token-of-student"]


async def test_logout_after_a_moodle_launch_stays_on_the_hub(hub: HubUnderTest):
    body = sign_lti11(hub.url("lti/launch"), moodle_lti11_params(), LTI11_KEY, LTI11_SECRET)
    signed_in = await hub.request("lti/launch", "POST", body)
    assert signed_in.code == 302

    response = await logout(hub, signed_in)

    assert response.headers["Location"] == "/prefix/hub/login"


async def test_logout_leaves_keycloak_alone_when_switched_off(hub: HubUnderTest):
    hub.authenticator.keycloak_login.logout_from_keycloak = False
    signed_in = await keycloak_login(hub, "student", ["students"])

    response = await logout(hub, signed_in)

    assert response.headers["Location"] == "/prefix/hub/login"


async def test_logout_without_a_login_goes_to_the_login_page(hub: HubUnderTest):
    response = await hub.request("logout")

    assert response.code == 302
    assert response.headers["Location"] == "/prefix/hub/login"


async def test_refresh_user_renews_expired_access_token(hub: HubUnderTest):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    user = hub.user("student")
    before = await user.get_auth_state()
    hub.keycloak.expire_access_tokens()

    refreshed = await hub.authenticator.refresh_user(user)

    assert refreshed["auth_state"]["access_token"] != before["access_token"]
    assert refreshed["auth_state"]["login_source"] == "keycloak"
    # A refresh is no new sign-in: linking accounts still needs a fresh campus login.
    assert (
        refreshed["auth_state"]["keycloak_authenticated_at"]
        == (before["keycloak_authenticated_at"])
    )
    assert refreshed["groups"] == []


async def test_refresh_of_an_lti_login_keeps_its_course_and_asks_keycloak_nothing(
    hub: HubUnderTest,
):
    body = sign_lti11(hub.url("lti/launch"), moodle_lti11_params(), LTI11_KEY, LTI11_SECRET)
    assert (await hub.request("lti/launch", "POST", body)).code == 302
    hub.keycloak.stop()

    refreshed = await hub.authenticator.refresh_user(hub.user("student"))

    assert refreshed["groups"] == ["course-moodle.42"]
    assert refreshed["auth_state"]["login_source"] == "lti11"


async def test_pre_spawn_start_exposes_source_and_entitlements(hub: HubUnderTest):
    body = sign_lti11(
        hub.url("lti/launch"),
        moodle_lti11_params(roles="Instructor"),
        LTI11_KEY,
        LTI11_SECRET,
    )
    assert (await hub.request("lti/launch", "POST", body)).code == 302
    user = hub.user("student")
    spawner = user.spawner

    await hub.authenticator.pre_spawn_start(user, spawner)

    assert spawner.environment["JUPYTERHUB_LOGIN_SOURCE"] == "lti11"
    assert spawner.environment["JUPYTERHUB_ENTITLEMENTS"] == "course-moodle.42,instructor"
    assert spawner.environment["JUPYTERHUB_COURSE_ID"] == "42"


async def test_spawn_hooks_reach_the_source_of_the_login(hub: HubUnderTest, monkeypatch):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    user = hub.user("student")
    calls = []
    keycloak = hub.authenticator.keycloak_login
    monkeypatch.setattr(keycloak, "pre_spawn_start", lambda u, s: calls.append(("pre", u.name)))
    monkeypatch.setattr(keycloak, "post_spawn_stop", lambda u, s: calls.append(("post", u.name)))

    await hub.authenticator.pre_spawn_start(user, user.spawner)
    await hub.authenticator.post_spawn_stop(user, user.spawner)

    assert calls == [("pre", "student"), ("post", "student")]
    assert user.spawner.environment["JUPYTERHUB_LOGIN_SOURCE"] == "keycloak"
    assert user.spawner.environment["JUPYTERHUB_COURSE_ID"] == ""
