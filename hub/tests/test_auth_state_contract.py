"""The auth_state contract: what the authenticator's logins record is what the hub reads.

The hub reads auth_state without importing the authenticator (hubconfig/auth_state.py names
what it reads; multilogin/auth_state.py declares what is written). Here real logins run through
the authenticator's test harness (an in-process hub, Moodle's and Keycloak's wire formats), and
the hub's readers are given the auth_state they recorded.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jupyterhub.crypto import CryptKeeper

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "authenticators" / "tests"))

from inprocess_hub import (
    LTI11_KEY,
    LTI11_SECRET,
    PLATFORM_NAME,
    HubUnderTest,
    RestartableHub,
    hub_config,
)
from multilogin_harness import (
    KeycloakWire,
    LTI13Platform,
    free_port,
    moodle_lti11_params,
    sign_lti11,
)
from test_multilogin_keycloak import keycloak_login
from test_multilogin_lti13 import finish_launch, start_launch

from hubconfig import auth_state as hub_reads
from multilogin import auth_state as recorded


@pytest.fixture
async def campus_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[HubUnderTest]:
    """The authenticator tests' hub: Keycloak, and LTI 1.1 and 1.3 from one campus Moodle."""
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", secrets.token_hex(32))
    CryptKeeper.clear_instance()
    platform, keycloak, port = LTI13Platform(), KeycloakWire(), free_port()
    platform.serve_jwks()
    keycloak.serve()
    config = hub_config(platform, keycloak, port, f"sqlite:///{tmp_path / 'hub.sqlite'}")
    restartable = RestartableHub(config, f"http://127.0.0.1:{port}", platform, keycloak)
    async with restartable.running() as hub:
        yield hub
    platform.stop()
    keycloak.stop()


async def lti11_launch(hub: HubUnderTest, username: str, context_id: str) -> None:
    params = moodle_lti11_params(username=username, context_id=context_id)
    body = sign_lti11(hub.url("lti/launch"), params, LTI11_KEY, LTI11_SECRET)
    assert (await hub.request("lti/launch", "POST", body)).code == 302


async def lti13_launch(hub: HubUnderTest, username: str, context_id: str) -> None:
    started = await start_launch(hub)
    claims = hub.platform.claims(started.nonce, username=username, context_id=context_id)
    assert (await finish_launch(hub, started, hub.platform.id_token(claims))).code == 302


async def auth_state_of(hub: HubUnderTest, name: str) -> dict[str, Any]:
    return await hub.user(name).get_auth_state()


def test_the_keys_the_hub_reads_are_keys_the_authenticator_declares() -> None:
    assert hub_reads.COURSE in recorded.AuthState.__required_keys__
    assert hub_reads.COURSE_KEY in recorded.Course.__required_keys__


@pytest.mark.parametrize("launch", [lti11_launch, lti13_launch], ids=["lti11", "lti13"])
async def test_the_hub_reads_the_course_key_of_a_launch(campus_hub: HubUnderTest, launch: Any):
    await launch(campus_hub, "student", "nlp-101")

    state = await auth_state_of(campus_hub, "student")

    # The course key as operators write it in courseProfiles: <platform name>/<context_id>.
    assert hub_reads.course_key(state) == f"{PLATFORM_NAME}/nlp-101"


async def test_a_campus_login_has_no_course_and_a_later_launch_has_one(campus_hub: HubUnderTest):
    assert (await keycloak_login(campus_hub, "student", ["students"])).code == 302
    assert hub_reads.course_key(await auth_state_of(campus_hub, "student")) is None

    await lti11_launch(campus_hub, "student", "202")
    assert (
        hub_reads.course_key(await auth_state_of(campus_hub, "student")) == f"{PLATFORM_NAME}/202"
    )

    assert (await keycloak_login(campus_hub, "student", ["students"])).code == 302
    assert hub_reads.course_key(await auth_state_of(campus_hub, "student")) is None
