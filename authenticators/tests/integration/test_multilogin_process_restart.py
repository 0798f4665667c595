"""Replay protection across a real restart of the `jupyterhub` process (same database)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
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


@pytest.fixture
def crypt_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same key in both runs, as a real deployment keeps it.
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", "ab" * 32)


@pytest.fixture
def hub(tmp_path: Path, crypt_key: None) -> Iterator[HubProcess]:
    process = HubProcess(
        tmp_path,
        free_port(),
        base_url="/prefix/",
        settings={
            "MultiLoginAuthenticator": {"enable_keycloak": False, "enable_lti13": False},
            "LTI11Login": {"consumers": {KEY: SECRET}, "consumer_trust": {KEY: TRUST}},
        },
    )
    yield process
    process.stop()


@pytest.fixture
async def platform() -> AsyncIterator[LTI13Platform]:
    platform = LTI13Platform()
    platform.serve_jwks()
    yield platform
    platform.stop()


@pytest.fixture
def lti13_hub(tmp_path: Path, crypt_key: None, platform: LTI13Platform) -> Iterator[HubProcess]:
    process = HubProcess(
        tmp_path,
        free_port(),
        base_url="/prefix/",
        settings={
            "MultiLoginAuthenticator": {"enable_keycloak": False, "enable_lti11": False},
            "LTI13Login": {"platforms": [{**platform.trusted_entry(), **TRUST}]},
        },
    )
    yield process
    process.stop()


def post_launch(hub: HubProcess, body: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - the hub on localhost
        hub.url("lti/launch"),
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_lti11_launch_replayed_after_a_hub_restart_is_refused(hub: HubProcess):
    hub.start()
    body = sign_lti11(
        hub.url("lti/launch"), moodle_lti11_params(), KEY, SECRET, nonce=random_nonce()
    )
    assert post_launch(hub, body) == 302
    hub.stop()

    hub.start()

    assert post_launch(hub, body) == 401
    assert "replayed oauth_nonce" in hub.log_file.read_text()


async def post(hub: HubProcess, path: str, body: str, cookies: str = "") -> HTTPResponse:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies}
    return await AsyncHTTPClient().fetch(
        hub.url(path),
        method="POST",
        body=body,
        headers=headers,
        follow_redirects=False,
        raise_error=False,
    )


async def test_lti13_launch_replayed_after_a_hub_restart_is_refused(
    lti13_hub: HubProcess, platform: LTI13Platform
):
    # The hub fetches the platform's keys from this process, so its loop must keep running.
    await asyncio.to_thread(lti13_hub.start)
    started = await post(
        lti13_hub, "lti13/oauth_login", form(platform.login_initiation(lti13_hub.url("lti/launch")))
    )
    query = {k: v[0] for k, v in parse_qs(urlparse(started.headers["Location"]).query).items()}
    cookies = SimpleCookie()
    for header in started.headers.get_list("Set-Cookie"):
        cookies.load(header)
    cookie_header = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
    token = platform.id_token(platform.claims(query["nonce"]))
    body = form({"id_token": token, "state": query["state"]})
    assert (await post(lti13_hub, "lti13/oauth_callback", body, cookie_header)).code == 302
    await asyncio.to_thread(lti13_hub.stop)

    await asyncio.to_thread(lti13_hub.start)

    assert (await post(lti13_hub, "lti13/oauth_callback", body, cookie_header)).code == 401
    assert "reused nonce" in lti13_hub.log_file.read_text()
