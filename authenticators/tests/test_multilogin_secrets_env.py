"""The Keycloak client secret and the LTI 1.1 consumer secrets from the environment (a Kubernetes
Secret through hub.extraEnv), and environment values that cannot be right: each stops the hub
with one line naming the setting and the variable, never the secret."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

import pytest
from multilogin_harness import moodle_lti11_params, sign_lti11
from traitlets.config import Config

from multilogin.authenticator import MultiLoginAuthenticator
from multilogin.lti11 import LTI11Login, check_signed_launch
from multilogin.secrets_env import StartupRefused

SECRET = "campus-moodle-secret-7f3a"
LAUNCH_URL = "https://jupyter.example.edu/hub/lti/launch"


def lti11_config(**lti11: object) -> Config:
    c = Config()
    c.MultiLoginAuthenticator.enable_keycloak = False
    c.MultiLoginAuthenticator.enable_lti13 = False
    separate = {"unlinked_identities": "separate-account"}
    c.LTI11Login.consumer_trust = {"moodle": separate, "legacy": separate}
    for name, value in lti11.items():
        c.LTI11Login[name] = value
    return c


def test_a_consumer_secret_comes_from_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODLE_LTI11_SECRET", SECRET)
    config = lti11_config(
        consumer_secret_env={"moodle": "MOODLE_LTI11_SECRET"}, consumers={"legacy": "other"}
    )
    authenticator = MultiLoginAuthenticator(config=config)
    consumers = authenticator.lti11_login.consumers
    assert consumers == {"legacy": "other", "moodle": SECRET}
    # The launch signed with the Secret's value is the one accepted.
    body = sign_lti11(LAUNCH_URL, moodle_lti11_params(), "moodle", SECRET)
    args = dict(parse_qsl(body, keep_blank_values=True))
    assert check_signed_launch(LAUNCH_URL, args, consumers, time.time()) == "moodle"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "the environment variable MOODLE_LTI11_SECRET is not set or empty"),
        ("", "the environment variable MOODLE_LTI11_SECRET is not set or empty"),
        (SECRET + "\n", "MOODLE_LTI11_SECRET has leading or trailing whitespace"),
        (" " + SECRET, "MOODLE_LTI11_SECRET has leading or trailing whitespace"),
        (SECRET[:4] + "\x1b" + SECRET[4:], "or a control character"),
    ],
)
def test_a_bad_variable_stops_the_start_in_one_line_without_the_secret(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    value: str | None,
    message: str,
) -> None:
    if value is None:
        monkeypatch.delenv("MOODLE_LTI11_SECRET", raising=False)
    else:
        monkeypatch.setenv("MOODLE_LTI11_SECRET", value)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StartupRefused) as refused:
        LTI11Login(config=lti11_config(consumer_secret_env={"moodle": "MOODLE_LTI11_SECRET"}))
    text = str(refused.value.code)
    assert text.startswith("multilogin: LTI11Login.consumer_secret_env['moodle']: ")
    assert message in text
    assert "\n" not in text
    assert SECRET not in text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"consumer_secret_env": {"moodle": "MOODLE-SECRET"}},
            "consumer_secret_env['moodle']: 'MOODLE-SECRET' is not an environment variable name",
        ),
        (
            {"consumer_secret_env": {"moodle": "X"}, "consumers": {"moodle": SECRET}},
            "LTI11Login.consumers and LTI11Login.consumer_secret_env both give the secret of "
            "'moodle'; give each once",
        ),
        ({"consumers": {"moodle": SECRET + "\n"}}, "LTI11Login.consumers['moodle'] has leading"),
        ({"consumers": {"moodle": 1234}}, "LTI11Login.consumers['moodle'] is not a string"),
    ],
)
def test_a_bad_setting_stops_the_start_in_one_line(settings: dict, message: str) -> None:
    with pytest.raises(StartupRefused) as refused:
        LTI11Login(config=lti11_config(**settings))
    assert message in str(refused.value.code)
    assert SECRET not in str(refused.value.code)


def keycloak_config() -> Config:
    c = Config()
    c.MultiLoginAuthenticator.enable_lti11 = False
    c.MultiLoginAuthenticator.enable_lti13 = False
    c.KeycloakLogin.keycloak_url = "https://sso.example.edu"
    c.KeycloakLogin.realm = "campus"
    c.KeycloakLogin.client_id = "jupyterhub"
    c.KeycloakLogin.allowed_groups = {"students"}
    return c


def test_the_keycloak_client_secret_comes_from_oauth_client_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", SECRET)
    authenticator = MultiLoginAuthenticator(config=keycloak_config())
    assert authenticator.keycloak_login.client_secret == SECRET


def test_a_keycloak_secret_with_a_final_newline_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", SECRET + "\n")
    with pytest.raises(StartupRefused) as refused:
        MultiLoginAuthenticator(config=keycloak_config())
    assert str(refused.value.code) == (
        "multilogin: KeycloakLogin.client_secret has leading or trailing whitespace or a control "
        "character (a file's final newline?); the secret would never match"
    )
