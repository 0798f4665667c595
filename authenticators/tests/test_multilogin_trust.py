"""The trust model, tried as an attacker would: someone holding one course's LTI key, a rogue
LTI 1.3 platform registered for another course, a student choosing a look-alike name; and the
proofs by which a platform identity does reach an account (authoritative platforms, links)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from inprocess_hub import (
    LTI11_KEY,
    LTI11_SECRET,
    HubUnderTest,
    hub_config,
    response_cookies,
    start_hub,
    stop_hub,
)
from jupyterhub import orm
from multilogin_harness import (
    ROLE_INSTRUCTOR,
    KeycloakWire,
    LTI13Platform,
    form,
    moodle_lti11_params,
    moodle_user_id,
    sign_lti11,
)
from test_multilogin_keycloak import keycloak_login
from test_multilogin_lti13 import finish_launch, start_launch

from multilogin import pending_links
from multilogin.identities import Identity

OTHER_KEY = "other-course-key"
OTHER_SECRET = "other-course-secret"
INSTITUTION_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"


@pytest.fixture
async def rogue_platform() -> AsyncIterator[LTI13Platform]:
    platform = LTI13Platform(issuer="https://rogue.example.org", client_id="rogue-client")
    platform.serve_jwks()
    yield platform
    platform.stop()


@pytest.fixture
def settings() -> dict[str, dict[str, Any]]:
    """Per-test changes to the hub's configuration, as {class: {trait: value}}; a dict value
    adds to a dict the campus hub configures."""
    return {}


@pytest.fixture
async def hub(
    lti13_platform: LTI13Platform,
    rogue_platform: LTI13Platform,
    keycloak_wire: KeycloakWire,
    free_port: int,
    hub_db_url: str,
    crypt_key: str,
    settings: dict[str, dict[str, Any]],
) -> AsyncIterator[HubUnderTest]:
    """The campus hub, plus a second LTI 1.1 key and a second LTI 1.3 platform that are
    trusted to launch but authoritative for no username."""
    c = hub_config(lti13_platform, keycloak_wire, free_port, hub_db_url)
    c.LTI11Login.consumers = {**c.LTI11Login.consumers, OTHER_KEY: OTHER_SECRET}
    c.LTI13Login.platforms = [*c.LTI13Login.platforms, rogue_platform.trusted_entry()]
    for class_name, traits in settings.items():
        for trait, value in traits.items():
            # Dict settings (consumer_trust) add to the campus hub's; others replace.
            configured = c[class_name].get(trait)
            merge = isinstance(value, dict) and isinstance(configured, dict)
            c[class_name][trait] = {**configured, **value} if merge else value
    app = await start_hub(c)
    yield HubUnderTest(app, f"http://127.0.0.1:{free_port}", lti13_platform, keycloak_wire)
    await stop_hub(app)


def trusting_other_key(trust: dict[str, str]) -> dict[str, Any]:
    """Settings giving the second LTI 1.1 key a trust of its own."""
    return {"LTI11Login": {"consumer_trust": {OTHER_KEY: trust}}}


SEPARATE_GUEST_ACCOUNTS = trusting_other_key(
    {"name": "guests", "unlinked_identities": "separate-account"}
)


async def lti11_launch(
    hub: HubUnderTest, username: str, key: str = LTI11_KEY, secret: str = LTI11_SECRET, **kw: str
) -> Any:
    body = sign_lti11(
        hub.url("lti/launch"), moodle_lti11_params(username=username, **kw), key, secret
    )
    return await hub.request("lti/launch", "POST", body)


async def lti13_launch(
    hub: HubUnderTest, platform: LTI13Platform, username: str, **claims: Any
) -> Any:
    started = await start_launch_at(hub, platform)
    token = platform.id_token(platform.claims(started.nonce, username=username, **claims))
    return await finish_launch(hub, started, token)


async def start_launch_at(hub: HubUnderTest, platform: LTI13Platform) -> Any:
    original = hub.platform
    hub.platform = platform
    try:
        return await start_launch(hub)
    finally:
        hub.platform = original


async def admin_page_code(hub: HubUnderTest, signed_in: Any) -> int:
    return (await hub.request("admin", cookies=response_cookies(signed_in))).code


def redirect_path(response: Any) -> str:
    return urlparse(response.headers.get("Location", "")).path


# ------------------------------------------------------------------ 1. admin takeover


async def test_moodle_launch_as_the_admin_is_refused_and_gets_no_admin_page(hub: HubUnderTest):
    assert (await keycloak_login(hub, "admin", ["admins"])).code == 302

    response = await lti11_launch(hub, "admin")

    assert response.code == 403
    assert b"Administrators sign in with the campus login" in response.body
    assert "jupyterhub-hub-login" not in response_cookies(response)
    assert hub.user("admin").admin


@pytest.mark.parametrize(
    "settings", [{"MultiLoginAuthenticator": {"lti_admin_accounts": "without-admin"}}]
)
async def test_moodle_launch_into_an_admin_account_can_land_without_admin(hub: HubUnderTest):
    assert (await keycloak_login(hub, "admin", ["admins"])).code == 302

    response = await lti11_launch(hub, "admin")

    assert response.code == 302
    assert not hub.user("admin").admin
    assert await admin_page_code(hub, response) == 403


async def test_rogue_lti13_platform_cannot_claim_the_admin(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    assert (await keycloak_login(hub, "admin", ["admins"])).code == 302

    response = await lti13_launch(hub, rogue_platform, "admin")

    assert response.code == 302
    assert redirect_path(response) == "/prefix/hub/link-account"
    assert hub.user_names() == {"admin"}
    assert "jupyterhub-hub-login" not in response_cookies(response)


async def test_other_lti11_key_cannot_claim_an_existing_student(hub: HubUnderTest):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302

    response = await lti11_launch(hub, "student", OTHER_KEY, OTHER_SECRET)

    assert redirect_path(response) == "/prefix/hub/link-account"
    assert "jupyterhub-hub-login" not in response_cookies(response)


async def test_a_launch_sent_to_the_link_page_cannot_be_replayed_for_another_link_cookie(
    hub: HubUnderTest,
):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    body = sign_lti11(
        hub.url("lti/launch"), moodle_lti11_params(username="student"), OTHER_KEY, OTHER_SECRET
    )
    assert (
        redirect_path(await hub.request("lti/launch", "POST", body)) == "/prefix/hub/link-account"
    )

    replay = await hub.request("lti/launch", "POST", body)

    assert replay.code == 401
    assert b"already used" in replay.body
    assert not [name for name in response_cookies(replay) if "multilogin-link" in name]


# ------------------------------------------------------------------ 2. look-alike names


@pytest.mark.parametrize(
    "name", ["\uff41\uff44\uff4d\uff49\uff4e", "\u1d43\u1d48\u1d50\u2071\u207f", "\u212aate"]
)
async def test_look_alike_names_are_refused(hub: HubUnderTest, name: str):
    assert (await keycloak_login(hub, "admin", ["admins"])).code == 302

    response = await lti11_launch(hub, name)

    assert response.code == 403
    assert b"look like other letters" in response.body
    assert hub.user_names() == {"admin"}


@pytest.mark.parametrize("name", ["../admin", "jane.doe", "a" * 64])
async def test_names_outside_the_username_pattern_are_refused_from_moodle(
    hub: HubUnderTest, name: str
):
    response = await lti11_launch(hub, name)

    assert response.code == 403
    assert b"does not have the form of a hub username" in response.body
    assert hub.user_names() == set()


async def test_names_outside_the_username_pattern_are_refused_from_keycloak(hub: HubUnderTest):
    response = await keycloak_login(hub, "jane..doe", ["students"])

    assert response.code == 403
    assert b"cannot be used on this hub" in response.body
    assert hub.user_names() == set()


# ------------------------------------------------------------------ 4. rights follow Keycloak


async def test_keycloak_groups_are_refreshed_in_a_moodle_session(hub: HubUnderTest):
    assert (await keycloak_login(hub, "gpu-student", ["students", "gpu"])).code == 302
    assert (await lti11_launch(hub, "gpu-student")).code == 302
    user = hub.user("gpu-student")
    assert "gpu" in {group.name for group in user.groups}
    account = next(a for a in hub.keycloak.access_tokens.values() if a.username == "gpu-student")
    account.groups.remove("gpu")

    refreshed = await hub.authenticator.refresh_user(user)

    assert "gpu" not in refreshed["groups"]
    assert refreshed["auth_state"]["login_source"] == "lti11"
    assert refreshed["auth_state"]["access_token"]


async def test_keycloak_share_goes_when_keycloak_stops_vouching(hub: HubUnderTest):
    assert (await keycloak_login(hub, "gpu-student", ["students", "gpu"])).code == 302
    assert (await lti11_launch(hub, "gpu-student")).code == 302
    hub.keycloak.expire_access_tokens()
    hub.keycloak.refresh_tokens.clear()

    refreshed = await hub.authenticator.refresh_user(hub.user("gpu-student"))

    assert refreshed["groups"] == ["course-moodle.42"]
    assert "access_token" not in refreshed["auth_state"]
    assert refreshed["admin"] is False


async def test_a_keycloak_session_must_sign_in_again_when_keycloak_stops_vouching(
    hub: HubUnderTest,
):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    hub.keycloak.expire_access_tokens()
    hub.keycloak.refresh_tokens.clear()

    assert await hub.authenticator.refresh_user(hub.user("student")) is False


async def test_institution_instructor_is_no_course_instructor(hub: HubUnderTest):
    response = await lti13_launch(hub, hub.platform, "student", roles=[INSTITUTION_INSTRUCTOR])

    assert response.code == 302
    assert "instructor" not in {group.name for group in hub.user("student").groups}


async def test_course_roles_expire_after_the_last_launch_from_that_course(hub: HubUnderTest):
    assert (await lti13_launch(hub, hub.platform, "teacher", roles=[ROLE_INSTRUCTOR])).code == 302
    user = hub.user("teacher")
    assert {"instructor", "course-moodle.42"} <= {group.name for group in user.groups}
    hub.authenticator.lti_share_lifetime_days = 0

    refreshed = await hub.authenticator.refresh_user(user)

    assert refreshed["groups"] == []


async def test_a_learner_launch_replaces_the_instructor_share_of_that_course(hub: HubUnderTest):
    assert (await lti11_launch(hub, "ta", roles="Instructor")).code == 302
    assert (await lti11_launch(hub, "ta", roles="Learner")).code == 302

    assert {group.name for group in hub.user("ta").groups} == {"course-moodle.42"}


# ------------------------------------------------------------------ 5. courses by platform


@pytest.mark.parametrize(
    "settings", [trusting_other_key({"name": "other-moodle", "authoritative_usernames": ".*"})]
)
async def test_course_groups_are_scoped_to_their_platform(hub: HubUnderTest):
    assert (await lti11_launch(hub, "student", context_id="202")).code == 302
    assert (
        await lti11_launch(hub, "learner", OTHER_KEY, OTHER_SECRET, context_id="202")
    ).code == 302

    assert {g.name for g in hub.user("student").groups} == {"course-moodle.202"}
    assert {g.name for g in hub.user("learner").groups} == {"course-other-moodle.202"}
    course = (await hub.user("learner").get_auth_state())["course"]
    assert course["key"] == "other-moodle/202"


# ------------------------------------------------------------------ 6. allowed and blocked


@pytest.mark.parametrize("settings", [{"MultiLoginAuthenticator": {"blocked_users": {"student"}}}])
async def test_blocked_users_are_refused_from_moodle(hub: HubUnderTest):
    response = await lti11_launch(hub, "student")

    assert response.code == 403
    assert hub.user_names() == set()


@pytest.mark.parametrize("settings", [{"KeycloakLogin": {"blocked_users": {"student"}}}])
async def test_keycloak_blocked_users_are_refused_from_moodle(hub: HubUnderTest):
    response = await lti13_launch(hub, hub.platform, "student")

    assert response.code == 403
    assert hub.user_names() == set()


@pytest.mark.parametrize("settings", [{"MultiLoginAuthenticator": {"allowed_users": {"student"}}}])
async def test_allowed_users_apply_to_moodle(hub: HubUnderTest):
    assert (await lti11_launch(hub, "student")).code == 302

    response = await lti11_launch(hub, "intruder")

    assert response.code == 403
    assert b"not allowed to use this hub" in response.body
    assert hub.user_names() == {"student"}


# ------------------------------------------------------------------ linking


async def test_link_flow_joins_a_rogue_platform_identity_only_after_a_fresh_campus_login(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    launched = await lti13_launch(hub, rogue_platform, "sam")
    assert redirect_path(launched) == "/prefix/hub/link-account"
    pending = response_cookies(launched)

    intro = await hub.request("link-account", cookies=pending)
    assert intro.code == 200
    assert b"Link your Moodle account to your campus account" in intro.body
    assert b"reauthenticate=1" in intro.body

    started = await hub.request("oauth_login?reauthenticate=1&next=/prefix/hub/link-account")
    assert parse_qs(urlparse(started.headers["Location"]).query)["prompt"] == ["login"]
    signed_in = await keycloak_login(
        hub, "student", ["students"], next_url="/prefix/hub/link-account"
    )
    cookies = {**pending, **response_cookies(signed_in)}

    confirm = await hub.request("link-account", cookies=cookies)
    assert confirm.code == 200
    assert b"to the campus account &#39;student&#39;" in confirm.body
    xsrf = _xsrf_from(confirm.body)
    linked = await hub.request(
        "link-account",
        "POST",
        form({"_xsrf": xsrf}),
        cookies={**cookies, **response_cookies(confirm)},
    )
    assert linked.code == 200, linked.body

    again = await lti13_launch(hub, rogue_platform, "sam")
    assert again.code == 302
    assert redirect_path(again) != "/prefix/hub/link-account"
    assert hub.user_names() == {"student"}
    assert (await hub.user("student").get_auth_state())["login_source"] == "lti13"


async def test_a_campus_session_from_before_the_launch_proves_nothing(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    signed_in = await keycloak_login(hub, "student", ["students"])
    launched = await lti13_launch(hub, rogue_platform, "someone-else")
    cookies = {**response_cookies(signed_in), **response_cookies(launched)}

    page = await hub.request("link-account", cookies=cookies)

    assert page.code == 200
    assert b"Link accounts" not in page.body
    assert b"reauthenticate=1" in page.body


async def test_over_https_the_pending_link_cookie_is_host_only(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    https = {"X-Forwarded-Proto": "https"}
    params = rogue_platform.login_initiation(hub.url("lti/launch"))
    started = await hub.request("lti13/oauth_login", "POST", form(params), headers=https)
    query = parse_qs(urlparse(started.headers["Location"]).query)
    token = rogue_platform.id_token(rogue_platform.claims(query["nonce"][0], username="sam"))
    body = form({"id_token": token, "state": query["state"][0]})

    response = await hub.request(
        "lti13/oauth_callback", "POST", body, cookies=response_cookies(started), headers=https
    )

    [cookie] = [c for c in response.headers.get_list("Set-Cookie") if "multilogin-link" in c]
    # __Host-: Secure, Path=/, no Domain; a user server on a subdomain cannot set one.
    assert cookie.startswith("__Host-multilogin-link=")
    assert "Secure" in cookie
    assert "Path=/;" in cookie
    assert "Domain" not in cookie


async def test_link_page_without_a_pending_launch_explains_itself(hub: HubUnderTest):
    response = await hub.request("link-account")

    assert response.code == 400
    assert b"Open the link in your Moodle course again" in response.body


@pytest.mark.parametrize("settings", [SEPARATE_GUEST_ACCOUNTS])
async def test_separate_account_policy_gives_a_platform_named_account(hub: HubUnderTest):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302

    response = await lti11_launch(hub, "student", OTHER_KEY, OTHER_SECRET)

    assert response.code == 302
    assert hub.user_names() == {"student", "guests-student"}
    assert (await keycloak_login(hub, "guests-student", ["students"])).code == 403


@pytest.mark.parametrize("settings", [trusting_other_key({"unlinked_identities": "refuse"})])
async def test_refuse_policy_refuses_unlinked_identities(hub: HubUnderTest):
    response = await lti11_launch(hub, "student", OTHER_KEY, OTHER_SECRET)

    assert response.code == 403
    assert b"not linked to a hub account" in response.body
    assert hub.user_names() == set()


async def test_an_authoritative_platform_cannot_take_an_account_its_other_user_holds(
    hub: HubUnderTest,
):
    assert (await lti11_launch(hub, "student", user_id="1")).code == 302

    response = await lti11_launch(hub, "student", user_id="2")

    assert response.code == 403
    assert b"linked to another account of this Moodle site" in response.body


async def test_a_second_campus_identity_cannot_take_a_linked_account(hub: HubUnderTest):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    hub.keycloak.subjects["student"] = "a-new-subject"

    response = await keycloak_login(hub, "student", ["students"])

    assert response.code == 403
    assert b"belongs to someone else" in response.body


async def test_accounts_from_before_links_join_by_proof_only(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    # An account as the name-based model left it: a user row, no links.
    existing = orm.User(name="student")
    hub.app.db.add(existing)
    hub.app.db.commit()
    hub.app.users.add(existing)

    rogue = await lti13_launch(hub, rogue_platform, "student")
    campus_moodle = await lti11_launch(hub, "student")

    assert redirect_path(rogue) == "/prefix/hub/link-account"
    assert campus_moodle.code == 302
    links = hub.authenticator.identities.links_of(hub.app.db, "student")
    assert [(link.identity.source, link.how) for link in links] == [
        ("lti11", "authoritative-platform")
    ]


async def test_linked_identities_page_lists_a_persons_links_and_an_admin_removes_one(
    hub: HubUnderTest,
):
    student = await keycloak_login(hub, "student", ["students"])
    assert (await lti11_launch(hub, "student")).code == 302
    admin = await keycloak_login(hub, "admin", ["admins"])

    own = await hub.request("linked-identities", cookies=response_cookies(student))
    assert own.code == 200
    assert own.body.count(b"<tr>") == 3  # the header and two links
    assert b"Remove" not in own.body
    other = await hub.request("linked-identities?user=admin", cookies=response_cookies(student))
    assert other.code == 403

    moodle_student = Identity(
        "lti11", LTI11_KEY, "", moodle_lti11_params(username="student")["user_id"]
    )
    removed = await remove_link(hub, admin, "student", moodle_student)
    assert removed.code == 302
    links = hub.authenticator.identities.links_of(hub.app.db, "student")
    assert [link.identity.source for link in links] == ["keycloak"]


async def test_after_a_realm_is_recreated_an_admin_unlinks_the_old_subject(hub: HubUnderTest):
    """A re-created realm gives a user a new Keycloak id: refused until the old link is removed."""
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    (old,) = hub.authenticator.identities.links_of(hub.app.db, "student")
    hub.keycloak.subjects["student"] = "a-new-id-from-the-new-realm"
    assert (await keycloak_login(hub, "student", ["students"])).code == 403

    admin = await keycloak_login(hub, "admin", ["admins"])
    removed = await remove_link(hub, admin, "student", old.identity)
    assert removed.code == 302

    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    (new,) = hub.authenticator.identities.links_of(hub.app.db, "student")
    assert new.identity.subject == "a-new-id-from-the-new-realm"


async def remove_link(hub: HubUnderTest, admin: Any, username: str, identity: Identity) -> Any:
    """An admin removes one of `username`'s links on the linked-identities page."""
    page = f"linked-identities?user={username}"
    listing = await hub.request(page, cookies=response_cookies(admin))
    fields = {
        "_xsrf": _xsrf_from(listing.body),
        "source": identity.source,
        "issuer": identity.issuer,
        "client_id": identity.client_id,
        "subject": identity.subject,
    }
    return await hub.request(
        page,
        "POST",
        form(fields),
        cookies={**response_cookies(admin), **response_cookies(listing)},
    )


def _xsrf_from(body: bytes) -> str:
    marker = b'name="_xsrf" value="'
    start = body.index(marker) + len(marker)
    return body[start : body.index(b'"', start)].decode()


async def test_look_alike_names_are_refused_even_from_a_platform_that_claims_none(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    response = await lti13_launch(hub, rogue_platform, "\uff41\uff44\uff4d\uff49\uff4e")

    assert response.code == 403
    assert b"look like other letters" in response.body


async def test_links_are_managed_with_a_token_only_as_far_as_its_scopes_go(hub: HubUnderTest):
    assert (await lti11_launch(hub, "student")).code == 302
    assert (await keycloak_login(hub, "admin", ["admins"])).code == 302
    admin = hub.user("admin")
    narrow = admin.new_api_token(scopes=["read:users"], note="narrow")
    full = admin.new_api_token(scopes=["admin:users"], note="full")
    fields = {"source": "lti11", "issuer": LTI11_KEY, "client_id": ""}
    fields["subject"] = moodle_lti11_params(username="student")["user_id"]

    async def remove(token: str) -> Any:
        return await hub.request(
            "linked-identities?user=student",
            "POST",
            form(fields),
            headers={"Authorization": f"token {token}"},
        )

    assert (await remove(narrow)).code == 403
    assert (await remove(full)).code == 302
    assert hub.authenticator.identities.links_of(hub.app.db, "student") == []


async def test_a_deleted_accounts_links_go_with_it(hub: HubUnderTest):
    assert (await lti11_launch(hub, "student")).code == 302
    assert (await keycloak_login(hub, "admin", ["admins"])).code == 302
    token = hub.user("admin").new_api_token(scopes=["admin:users"], note="delete")

    response = await hub.request(
        "api/users/student", "DELETE", headers={"Authorization": f"token {token}"}
    )

    assert response.code == 204
    assert hub.authenticator.identities.links_of(hub.app.db, "student") == []


@pytest.mark.parametrize("settings", [SEPARATE_GUEST_ACCOUNTS])
async def test_a_separate_account_name_taken_by_someone_else_is_refused(hub: HubUnderTest):
    assert (await keycloak_login(hub, "guests-student", ["students"])).code == 302

    response = await lti11_launch(hub, "student", OTHER_KEY, OTHER_SECRET)

    assert response.code == 403
    assert b"already exists" in response.body


async def freshly_signed_in_to_link(
    hub: HubUnderTest, platform: LTI13Platform, campus_user: str, groups: list[str]
) -> dict[str, str]:
    """The cookies of a browser that launched from `platform`, then signed in with Keycloak."""
    launched = await lti13_launch(hub, platform, "sam")
    signed_in = await keycloak_login(hub, campus_user, groups, next_url="/prefix/hub/link-account")
    return {**response_cookies(launched), **response_cookies(signed_in)}


async def test_confirming_a_link_without_a_fresh_campus_login_is_refused(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    signed_in = await keycloak_login(hub, "student", ["students"])
    launched = await lti13_launch(hub, rogue_platform, "sam")
    cookies = {**response_cookies(signed_in), **response_cookies(launched)}

    response = await hub.request(
        "link-account", "POST", form({"_xsrf": cookies["_xsrf"]}), cookies=cookies
    )

    assert response.code == 403
    assert b"Sign in with the campus login first" in response.body
    assert hub.authenticator.identities.links_of(hub.app.db, "student")[0].identity.source == (
        "keycloak"
    )
    assert len(hub.authenticator.identities.links_of(hub.app.db, "student")) == 1


async def test_a_moodle_account_cannot_be_linked_to_an_admin_account(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    cookies = await freshly_signed_in_to_link(hub, rogue_platform, "admin", ["admins"])

    page = await hub.request("link-account", cookies=cookies)

    assert page.code == 403
    assert b"cannot be linked to one" in page.body


async def test_an_identity_linked_meanwhile_is_not_linked_twice(
    hub: HubUnderTest, rogue_platform: LTI13Platform
):
    cookies = await freshly_signed_in_to_link(hub, rogue_platform, "student", ["students"])
    page = await hub.request("link-account", cookies=cookies)
    identity = Identity("lti13", rogue_platform.issuer, rogue_platform.client_id, "")
    sam = replace(identity, subject=moodle_user_id("sam"))
    assert hub.authenticator.identities.link(hub.app.db, sam, "someone", "test")

    response = await hub.request(
        "link-account",
        "POST",
        form({"_xsrf": _xsrf_from(page.body)}),
        cookies={**cookies, **response_cookies(page)},
    )

    assert response.code == 409


async def test_a_course_id_too_long_for_a_group_name_is_refused(hub: HubUnderTest):
    response = await lti11_launch(hub, "student", context_id="7" * 250)

    assert response.code == 400
    assert b"course this hub cannot hold" in response.body
    assert hub.user_names() == set()


async def test_a_pending_link_older_than_its_lifetime_is_gone(
    hub: HubUnderTest, rogue_platform: LTI13Platform, monkeypatch: pytest.MonkeyPatch
):
    launched = await lti13_launch(hub, rogue_platform, "sam")
    assert (await hub.request("link-account", cookies=response_cookies(launched))).code == 200
    monkeypatch.setattr(pending_links, "LIFETIME_S", -1)

    response = await hub.request("link-account", cookies=response_cookies(launched))

    assert response.code == 400
    assert b"waited more than 10 minutes" in response.body
