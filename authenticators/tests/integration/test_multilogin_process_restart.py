"""Replay protection across a real restart of the `jupyterhub` process (same database)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from multilogin_harness import HubProcess, free_port, moodle_lti11_params, random_nonce, sign_lti11

pytestmark = pytest.mark.integration

KEY, SECRET = "moodle-key", "moodle-secret"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubProcess]:
    # The same key in both runs, as a real deployment keeps it.
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", "ab" * 32)
    process = HubProcess(
        tmp_path,
        free_port(),
        base_url="/prefix/",
        settings={
            "MultiLoginAuthenticator": {"enable_keycloak": False, "enable_lti13": False},
            "LTI11Login": {"consumers": {KEY: SECRET}},
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
