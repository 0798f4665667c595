"""LTI 1.1 launches signed as Moodle signs them: accepted, mapped, and each kind refused."""

from __future__ import annotations

import time

import pytest
from inprocess_hub import LTI11_KEY, LTI11_SECRET, HubUnderTest
from multilogin_harness import moodle_lti11_params, random_nonce, sign_lti11


async def launch(hub: HubUnderTest, body: str, accept: str = "text/html") -> object:
    return await hub.request("lti/launch", "POST", body, headers={"Accept": accept})


def signed(hub: HubUnderTest, **overrides: object) -> str:
    params = moodle_lti11_params(**{k: v for k, v in overrides.items() if k in _PARAM_ARGS})
    return sign_lti11(
        hub.url("lti/launch"),
        params,
        str(overrides.get("key", LTI11_KEY)),
        str(overrides.get("secret", LTI11_SECRET)),
        timestamp=overrides.get("timestamp"),  # type: ignore[arg-type]
        nonce=overrides.get("nonce"),  # type: ignore[arg-type]
    )


_PARAM_ARGS = {"username", "roles", "context_id", "context_title", "custom_next"}


async def test_moodle_launch_logs_in_with_moodle_username_and_course_groups(hub: HubUnderTest):
    response = await launch(hub, signed(hub, username="Student", roles="Learner"))

    assert response.code == 302
    assert response.headers["Location"].startswith("/prefix/hub/")
    user = hub.user("student")
    assert sorted(group.name for group in user.groups) == ["course-moodle.42"]
    auth_state = await user.get_auth_state()
    assert auth_state["login_source"] == "lti11"
    assert auth_state["entitlements"] == ["course-moodle.42"]
    assert auth_state["course"] == {
        "context_id": "42",
        "title": "Data Science 101",
        "platform": "moodle",
        "key": "moodle/42",
    }
    assert auth_state["lti_roles"] == ["Learner"]
    assert not user.admin


async def test_instructor_role_grants_instructor_group(hub: HubUnderTest):
    response = await launch(hub, signed(hub, username="teacher", roles="Instructor,Learner"))

    assert response.code == 302
    assert sorted(g.name for g in hub.user("teacher").groups) == ["course-moodle.42", "instructor"]


async def test_administrator_role_never_grants_admin(hub: HubUnderTest):
    roles = "urn:lti:sysrole:ims/lis/Administrator,urn:lti:instrole:ims/lis/Administrator"
    response = await launch(hub, signed(hub, username="boss", roles=roles))

    assert response.code == 302
    user = hub.user("boss")
    assert not user.admin
    assert "admin" not in {g.name for g in user.groups}


async def test_custom_next_survives_the_launch(hub: HubUnderTest):
    body = signed(hub, custom_next="/prefix/hub/spawn?profile=gpu")

    response = await launch(hub, body)

    assert response.code == 302
    assert response.headers["Location"] == "/prefix/hub/spawn?profile=gpu"


async def test_next_outside_the_hub_is_ignored(hub: HubUnderTest):
    response = await launch(hub, signed(hub, custom_next="https://evil.example.com/"))

    assert response.code == 302
    assert "evil" not in response.headers["Location"]


async def test_bad_signature_is_refused_without_creating_a_user(hub: HubUnderTest):
    response = await launch(hub, signed(hub, secret="not-the-secret"))

    assert response.code == 401
    assert b"bad signature" in response.body
    assert hub.user_names() == set()


async def test_missing_signature_is_refused(hub: HubUnderTest):
    body = "&".join(p for p in signed(hub).split("&") if not p.startswith("oauth_signature="))

    response = await launch(hub, body)

    assert response.code == 400
    assert hub.user_names() == set()


async def test_unknown_consumer_key_is_refused(hub: HubUnderTest):
    response = await launch(hub, signed(hub, key="someone-else", secret="x"))

    assert response.code == 401
    assert b"unknown consumer key" in response.body
    assert hub.user_names() == set()


async def test_stale_timestamp_is_refused(hub: HubUnderTest):
    response = await launch(hub, signed(hub, timestamp=int(time.time()) - 3600))

    assert response.code == 401
    assert b"expired" in response.body
    assert hub.user_names() == set()


async def test_replayed_nonce_is_refused_in_the_same_process(hub: HubUnderTest):
    body = signed(hub, nonce=random_nonce())
    assert (await launch(hub, body)).code == 302

    response = await launch(hub, body)

    assert response.code == 401
    assert b"already used" in response.body


async def test_refusal_answers_json_to_api_clients(hub: HubUnderTest):
    response = await launch(hub, signed(hub, secret="wrong"), accept="application/json")

    assert response.code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert b'"status": 401' in response.body


@pytest.mark.parametrize(
    ("missing", "explanation"),
    [("ext_user_username", b"did not send your username"), ("user_id", b"incomplete")],
)
async def test_launch_without_moodle_username_or_user_id_is_refused(
    hub: HubUnderTest, missing: str, explanation: bytes
):
    params = moodle_lti11_params()
    del params[missing]
    body = sign_lti11(hub.url("lti/launch"), params, LTI11_KEY, LTI11_SECRET)

    response = await launch(hub, body)

    assert response.code == 400
    assert explanation in response.body
    assert hub.user_names() == set()


async def test_get_on_the_launch_endpoint_explains_itself(hub: HubUnderTest):
    response = await hub.request("lti/launch")

    assert response.code == 405
    assert b"Moodle course" in response.body


async def test_tool_configuration_xml_has_the_prefixed_launch_url(hub: HubUnderTest):
    response = await hub.request("lti11/config")

    assert response.code == 200
    assert hub.url("lti/launch").encode() in response.body
