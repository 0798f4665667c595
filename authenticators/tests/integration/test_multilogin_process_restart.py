"""Replay protection across a real restart of the `jupyterhub` process (same database)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from inprocess_hub import response_cookies
from multilogin_harness import (
    HubProcess,
    LTI13Platform,
    form,
    free_port,
    moodle_lti11_params,
    random_nonce,
    sign_lti11,
)
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

pytestmark = pytest.mark.integration

KEY, SECRET = "moodle-key", "moodle-secret"
# No Keycloak here to link accounts with: launches land by username or are refused.
TRUST = {"name": "moodle", "authoritative_usernames": "[a-z0-9-]+", "unlinked_identities": "refuse"}


@pytest.fixture(autouse=True)
def crypt_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same key in both runs, as a real deployment keeps it.
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", "ab" * 32)


def hub_process(workdir: Path, settings: dict[str, dict[str, Any]]) -> HubProcess:
    """A hub process configured by `settings` (traitlets as data), not started yet."""
    return HubProcess(workdir, free_port(), base_url="/prefix/", settings=settings)


async def restart(hub: HubProcess) -> None:
    # In a thread: a hub fetching an LTI 1.3 platform's keys from this process needs its loop.
    await asyncio.to_thread(hub.stop)
    await asyncio.to_thread(hub.start)


async def post(
    hub: HubProcess, path: str, body: str, cookies: dict[str, str] | None = None
) -> HTTPResponse:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return await AsyncHTTPClient().fetch(
        hub.url(path),
        method="POST",
        body=body,
        headers=headers,
        follow_redirects=False,
        raise_error=False,
    )


async def test_lti11_launch_replayed_after_a_hub_restart_is_refused(tmp_path: Path):
    hub = hub_process(
        tmp_path,
        {
            "MultiLoginAuthenticator": {"enable_keycloak": False, "enable_lti13": False},
            "LTI11Login": {"consumers": {KEY: SECRET}, "consumer_trust": {KEY: TRUST}},
        },
    )
    await asyncio.to_thread(hub.start)
    try:
        body = sign_lti11(
            hub.url("lti/launch"), moodle_lti11_params(), KEY, SECRET, nonce=random_nonce()
        )
        assert (await post(hub, "lti/launch", body)).code == 302

        await restart(hub)

        assert (await post(hub, "lti/launch", body)).code == 401
        assert f"lti11:{KEY}: replayed nonce" in hub.log_file.read_text()
    finally:
        hub.stop()


async def test_lti13_launch_replayed_after_a_hub_restart_is_refused(
    tmp_path: Path, lti13_platform: LTI13Platform
):
    platform = lti13_platform
    hub = hub_process(
        tmp_path,
        {
            "MultiLoginAuthenticator": {"enable_keycloak": False, "enable_lti11": False},
            "LTI13Login": {"platforms": [{**platform.trusted_entry(), **TRUST}]},
        },
    )
    await asyncio.to_thread(hub.start)
    try:
        initiation = form(platform.login_initiation(hub.url("lti/launch")))
        started = await post(hub, "lti13/oauth_login", initiation)
        query = {k: v[0] for k, v in parse_qs(urlparse(started.headers["Location"]).query).items()}
        token = platform.id_token(platform.claims(query["nonce"]))
        body = form({"id_token": token, "state": query["state"]})
        cookies = response_cookies(started)
        assert (await post(hub, "lti13/oauth_callback", body, cookies)).code == 302

        await restart(hub)

        assert (await post(hub, "lti13/oauth_callback", body, cookies)).code == 401
        assert f"lti13:{platform.issuer}: replayed nonce" in hub.log_file.read_text()
    finally:
        hub.stop()
