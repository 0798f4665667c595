"""Replays after the hub stopped and started again on the same database (in process; the
integration test test_multilogin_process_restart.py restarts a real `jupyterhub` process)."""

from __future__ import annotations

import pytest
from inprocess_hub import RestartableHub, hub_config
from multilogin_harness import KeycloakWire, LTI13Platform, random_nonce
from test_multilogin_lti11 import launch, signed
from test_multilogin_lti13 import finish_launch, start_launch


@pytest.fixture
def hubs(
    lti13_platform: LTI13Platform,
    keycloak_wire: KeycloakWire,
    free_port: int,
    hub_db_url: str,
    crypt_key: str,
) -> RestartableHub:
    config = hub_config(lti13_platform, keycloak_wire, free_port, hub_db_url)
    return RestartableHub(config, f"http://127.0.0.1:{free_port}", lti13_platform, keycloak_wire)


async def test_lti11_nonce_replayed_after_a_hub_restart_is_refused(hubs: RestartableHub):
    async with hubs.running() as first:
        body = signed(first, nonce=random_nonce())
        assert (await launch(first, body)).code == 302

    async with hubs.running() as second:
        response = await launch(second, body)

    assert response.code == 401
    assert b"already used" in response.body


async def test_lti13_nonce_reused_after_a_hub_restart_is_refused(hubs: RestartableHub):
    async with hubs.running() as first:
        started = await start_launch(first)
        token = first.platform.id_token(first.platform.claims(started.nonce))
        assert (await finish_launch(first, started, token)).code == 302

    async with hubs.running() as second:
        response = await finish_launch(second, started, token)

    assert response.code == 401
    assert b"already used" in response.body
