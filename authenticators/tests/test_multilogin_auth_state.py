"""auth_state as each kind of login records it has the shape multilogin/auth_state.py declares."""

from __future__ import annotations

from typing import Any

from inprocess_hub import LTI11_KEY, LTI11_SECRET, HubUnderTest
from multilogin_harness import moodle_lti11_params, sign_lti11
from test_multilogin_keycloak import keycloak_login
from test_multilogin_lti13 import finish_launch, start_launch

from multilogin.auth_state import COURSE, KEYCLOAK_KEYS, AuthState, Course

DECLARED = AuthState.__required_keys__ | AuthState.__optional_keys__


def assert_declared_shape(auth_state: dict[str, Any]) -> None:
    assert AuthState.__required_keys__ <= auth_state.keys() <= DECLARED, sorted(auth_state)
    if auth_state[COURSE] is not None:
        assert auth_state[COURSE].keys() == Course.__required_keys__


async def test_a_campus_login_records_the_declared_keys_and_its_tokens(hub: HubUnderTest):
    assert (await keycloak_login(hub, "staff", ["instructors"])).code == 302

    auth_state = await hub.user("staff").get_auth_state()

    assert_declared_shape(auth_state)
    assert set(KEYCLOAK_KEYS) <= auth_state.keys()


async def test_launches_record_the_declared_keys(hub: HubUnderTest):
    body = sign_lti11(hub.url("lti/launch"), moodle_lti11_params("one"), LTI11_KEY, LTI11_SECRET)
    assert (await hub.request("lti/launch", "POST", body)).code == 302
    started = await start_launch(hub)
    token = hub.platform.id_token(hub.platform.claims(started.nonce, username="two"))
    assert (await finish_launch(hub, started, token)).code == 302

    for name in ("one", "two"):
        auth_state = await hub.user(name).get_auth_state()
        assert_declared_shape(auth_state)
        assert auth_state[COURSE] is not None
        assert not set(KEYCLOAK_KEYS) & auth_state.keys()


async def test_a_launch_after_a_campus_login_keeps_its_tokens(hub: HubUnderTest):
    assert (await keycloak_login(hub, "student", ["students"])).code == 302
    body = sign_lti11(hub.url("lti/launch"), moodle_lti11_params(), LTI11_KEY, LTI11_SECRET)
    assert (await hub.request("lti/launch", "POST", body)).code == 302

    auth_state = await hub.user("student").get_auth_state()

    assert_declared_shape(auth_state)
    assert set(KEYCLOAK_KEYS) <= auth_state.keys()
