"""Fixtures: an in-process JupyterHub under a URL prefix with MultiLoginAuthenticator, a
Moodle-like LTI 1.3 platform with its JWKS, and Keycloak's token/userinfo wire format."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from inprocess_hub import HubUnderTest, hub_config, start_hub, stop_hub
from jupyterhub.crypto import CryptKeeper
from multilogin_harness import KeycloakWire, LTI13Platform, free_port


@pytest.fixture
async def lti13_platform() -> AsyncIterator[LTI13Platform]:
    platform = LTI13Platform()
    platform.serve_jwks()
    yield platform
    platform.stop()


@pytest.fixture
async def keycloak_wire() -> AsyncIterator[KeycloakWire]:
    wire = KeycloakWire()
    wire.serve()
    yield wire
    wire.stop()


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    return free_port()


@pytest.fixture
def hub_db_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite'}"


@pytest.fixture
def crypt_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """auth_state is encrypted with the key JupyterHub reads from JUPYTERHUB_CRYPT_KEY."""
    key = secrets.token_hex(32)
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", key)
    CryptKeeper.clear_instance()
    return key


@pytest.fixture
async def hub(
    lti13_platform: LTI13Platform,
    keycloak_wire: KeycloakWire,
    free_port: int,
    hub_db_url: str,
    crypt_key: str,
) -> AsyncIterator[HubUnderTest]:
    app = await start_hub(hub_config(lti13_platform, keycloak_wire, free_port, hub_db_url))
    yield HubUnderTest(app, f"http://127.0.0.1:{free_port}", lti13_platform, keycloak_wire)
    await stop_hub(app)
