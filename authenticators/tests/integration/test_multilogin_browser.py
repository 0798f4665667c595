"""MultiLoginAuthenticator end to end: a real `jupyterhub` process under a URL prefix, the real
Keycloak, the mock Moodle, and Chromium driven by Playwright. Users are checked through the hub's
REST API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from multilogin_harness import HubProcess, free_port

from service_fixtures import (
    KeycloakRealm,
    RunningMockMoodle,
    chromium_launch_args,
    fresh_page,
    launched_chromium,
)

pytestmark = pytest.mark.integration

PREFIX = "/prefix/"
ALLOWED_GROUPS = {"students", "gpu", "instructors", "admins"}
# The mock Moodle's users are the realm's: it may claim their names, never the admin's.
CAMPUS_MOODLE_TRUST = {"name": "moodle", "authoritative_usernames": "(?!admin$)[a-z0-9-]+"}


@pytest.fixture(scope="module")
def hub_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def moodle(mock_moodle_factory: Any, hub_port: int) -> RunningMockMoodle:
    return mock_moodle_factory(f"http://127.0.0.1:{hub_port}{PREFIX}")


def keycloak_settings(keycloak: KeycloakRealm, token_url: str | None = None) -> dict[str, Any]:
    client_id = keycloak.short_token_client_id  # 10 s access tokens: refresh is observable
    return {
        "authorize_url": keycloak.server.authorize_url,
        "token_url": token_url or keycloak.server.token_url,
        "userdata_url": keycloak.server.userinfo_url,
        "end_session_url": keycloak.server.end_session_url,
        "client_id": client_id,
        "client_secret": keycloak.client_secrets[client_id],
        "allowed_groups": ALLOWED_GROUPS,
    }


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory,
    hub_port: int,
    keycloak: KeycloakRealm,
    moodle: RunningMockMoodle,
) -> Iterator[HubProcess]:
    lti11 = moodle.platform["lti11"]
    process = HubProcess(
        tmp_path_factory.mktemp("hub"),
        hub_port,
        base_url=PREFIX,
        settings={
            "JupyterHub": {"default_url": f"{PREFIX}hub/home"},
            "MultiLoginAuthenticator": {"auth_refresh_age": 5},
            "KeycloakLogin": keycloak_settings(keycloak),
            "LTI11Login": {
                "consumers": {lti11["consumer_key"]: lti11["shared_secret"]},
                "consumer_trust": {lti11["consumer_key"]: CAMPUS_MOODLE_TRUST},
            },
            "LTI13Login": {"platforms": [moodle.lti13_platform(**CAMPUS_MOODLE_TRUST)]},
        },
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def hub_without_keycloak_backend(
    tmp_path_factory: pytest.TempPathFactory, keycloak: KeycloakRealm
) -> Iterator[HubProcess]:
    """Browsers reach Keycloak, but the hub cannot (its token endpoint is a closed port)."""
    dead_token_url = f"http://127.0.0.1:{free_port()}/token"
    process = HubProcess(
        tmp_path_factory.mktemp("hub-no-keycloak"),
        free_port(),
        base_url=PREFIX,
        settings={
            "MultiLoginAuthenticator": {"enable_lti11": False, "enable_lti13": False},
            "KeycloakLogin": keycloak_settings(keycloak, token_url=dead_token_url),
        },
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium(chromium_launch_args()) as launched:
        yield launched


@pytest.fixture
def page(browser: Any, hub: HubProcess) -> Iterator[Any]:
    """A fresh browser profile per test, and a hub without users."""
    with fresh_page(browser, hub) as fresh:
        yield fresh


def keycloak_sign_in(page: Any, hub: HubProcess, keycloak: KeycloakRealm, username: str) -> None:
    page.goto(hub.url("login?next=" + f"{PREFIX}hub/token"))
    page.click("#multilogin-keycloak")
    page.fill("#username", username)
    page.fill("#password", keycloak.users[username].password)
    page.click("#kc-login")


def groups_of(hub: HubProcess, name: str) -> list[str]:
    return sorted(hub.api(f"users/{name}")["groups"])


def test_keycloak_sign_in_keeps_next_and_maps_groups(
    page: Any, hub: HubProcess, keycloak: KeycloakRealm
):
    keycloak_sign_in(page, hub, keycloak, "gpu-student")

    page.wait_for_url(hub.url("token"))
    assert hub.user_names() == {"gpu-student"}
    assert groups_of(hub, "gpu-student") == ["gpu"]
    auth_state = hub.api("users/gpu-student")["auth_state"]
    assert auth_state["login_source"] == "keycloak"


def test_keycloak_admin_group_makes_an_admin(page: Any, hub: HubProcess, keycloak: KeycloakRealm):
    keycloak_sign_in(page, hub, keycloak, "admin")

    page.wait_for_url(hub.url("token"))
    assert hub.api("users/admin")["admin"] is True


def test_logout_ends_the_campus_session_so_the_next_person_must_sign_in(
    page: Any, hub: HubProcess, keycloak: KeycloakRealm
):
    keycloak_sign_in(page, hub, keycloak, "student")
    page.wait_for_url(hub.url("token"))

    page.goto(hub.url("logout"))

    page.wait_for_url(hub.url("login"))
    page.click("#multilogin-keycloak")
    # With Keycloak's session still open, this click would sign the student straight back in.
    page.wait_for_selector("#username")
    assert page.url.startswith(keycloak.server.authorize_url)


def test_keycloak_user_outside_allowed_groups_is_refused(
    page: Any, hub: HubProcess, keycloak: KeycloakRealm
):
    with page.expect_response(lambda r: "/oauth_callback" in r.url) as answer:
        keycloak_sign_in(page, hub, keycloak, "outsider")

    assert answer.value.status == 403
    assert "not allowed to use this hub" in answer.value.text()
    assert hub.user_names() == set()


def test_keycloak_state_mismatch_is_refused(page: Any, hub: HubProcess, keycloak: KeycloakRealm):
    page.goto(hub.url("oauth_login"))
    page.wait_for_selector("#username")
    first_attempt = page.url
    page.goto(hub.url("oauth_login"))  # a second start replaces the hub's state cookie
    page.wait_for_selector("#username")
    page.goto(first_attempt)

    with page.expect_response(lambda r: "/oauth_callback" in r.url) as answer:
        page.fill("#username", "student")
        page.fill("#password", keycloak.users["student"].password)
        page.click("#kc-login")

    assert answer.value.status == 400
    assert hub.user_names() == set()


def test_keycloak_unreachable_from_the_hub_is_a_clear_503(
    page: Any, hub_without_keycloak_backend: HubProcess, keycloak: KeycloakRealm
):
    hub = hub_without_keycloak_backend
    with page.expect_response(lambda r: "/oauth_callback" in r.url) as answer:
        keycloak_sign_in(page, hub, keycloak, "student")

    assert answer.value.status == 503
    assert "cannot be reached" in answer.value.text()
    assert hub.user_names() == set()


def test_lti11_launch_from_moodle(page: Any, hub: HubProcess, moodle: RunningMockMoodle):
    page.goto(moodle.launch_url("1.1", "instructor", "101"))

    page.wait_for_url(hub.url("home"))
    assert groups_of(hub, "instructor") == ["course-moodle.101", "instructor"]
    assert hub.api("users/instructor")["auth_state"]["login_source"] == "lti11"


def test_lti13_launch_from_moodle(page: Any, hub: HubProcess, moodle: RunningMockMoodle):
    page.goto(moodle.launch_url("1.3", "gpu-student", "202"))

    page.wait_for_url(hub.url("home"))
    assert groups_of(hub, "gpu-student") == ["course-moodle.202"]
    auth_state = hub.api("users/gpu-student")["auth_state"]
    assert auth_state["login_source"] == "lti13"
    assert auth_state["course"]["context_id"] == "202"


def test_a_moodle_launch_as_the_admin_signs_nobody_in(
    page: Any, hub: HubProcess, moodle: RunningMockMoodle
):
    page.goto(moodle.launch_url("1.3", "admin", "101"))

    # The campus Moodle may not claim `admin`: the hub asks to link a campus account.
    page.wait_for_url(hub.url("link-account"))
    assert hub.user_names() == set()


def test_same_person_via_keycloak_then_moodle_is_one_user(
    page: Any, hub: HubProcess, keycloak: KeycloakRealm, moodle: RunningMockMoodle
):
    keycloak_sign_in(page, hub, keycloak, "gpu-student")
    page.wait_for_url(hub.url("token"))
    first = hub.api("users/gpu-student")

    page.goto(moodle.launch_url("1.1", "gpu-student", "202"))
    page.wait_for_url(hub.url("home"))

    assert hub.user_names() == {"gpu-student"}
    second = hub.api("users/gpu-student")
    assert second["created"] == first["created"]
    assert sorted(second["groups"]) == ["course-moodle.202", "gpu"]


def test_keycloak_tokens_are_refreshed_when_they_expire(
    page: Any, hub: HubProcess, keycloak: KeycloakRealm
):
    keycloak_sign_in(page, hub, keycloak, "student")
    page.wait_for_url(hub.url("token"))
    before = hub.api("users/student")["auth_state"]
    expires = jwt.decode(before["access_token"], options={"verify_signature": False})["exp"]
    # The token's own expiry is what this test waits for; nothing on a page signals it.
    time.sleep(max(0.0, expires - time.time()) + 1)

    page.goto(hub.url("home"))

    page.wait_for_url(hub.url("home"))
    after = hub.api("users/student")["auth_state"]
    assert after["access_token"] != before["access_token"]
    assert after["login_source"] == "keycloak"


INVALID_LAUNCHES = [
    ("1.1", "bad_signature", 401),
    ("1.1", "missing_signature", 400),
    ("1.1", "unknown_consumer_key", 401),
    ("1.1", "stale_timestamp", 401),
    ("1.1", "replayed_nonce", 401),
    ("1.3", "bad_signature", 401),
    ("1.3", "wrong_audience", 401),
    ("1.3", "unknown_issuer", 401),
    ("1.3", "unknown_deployment", 401),
    ("1.3", "missing_nonce", 400),
    ("1.3", "reused_nonce", 401),
    ("1.3", "state_mismatch", 400),
    ("1.3", "expired_token", 401),
]


@pytest.mark.parametrize(("version", "mode", "status"), INVALID_LAUNCHES)
def test_invalid_launch_is_refused_and_creates_no_user(
    page: Any, hub: HubProcess, moodle: RunningMockMoodle, version: str, mode: str, status: int
):
    if mode in ("replayed_nonce", "reused_nonce"):
        page.goto(moodle.launch_url(version, "student", "101"))
        page.wait_for_url(hub.url("home"))
        hub.delete_all_users()

    with page.expect_response(lambda r: r.url.startswith(hub.url("")) and r.status >= 400) as got:
        page.goto(moodle.launch_url(version, "student", "101", invalid=mode))

    assert got.value.status == status
    assert "Moodle" in got.value.text() or "launch" in got.value.text()  # our message
    assert hub.user_names() == set()
