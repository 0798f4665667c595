"""LTI 1.3 launches of the mock Moodle: the login flow, the id_token (checked with PyJWT), keys."""

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from lti13_tool import DROP, auth_request

from mock_moodle import config, keys, lti13
from mock_moodle.launches import LaunchError

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
TOOL_CALLBACK = "http://127.0.0.1:8000/hub/lti13/oauth_callback"


@pytest.fixture(scope="module")
def signing_key() -> Any:
    return keys.generate()


@pytest.fixture
def platform(signing_key: Any) -> lti13.Lti13Platform:
    return lti13.Lti13Platform(config.load(config.EXAMPLE_CONFIG).for_port(8100), signing_key)


def launch(
    platform: lti13.Lti13Platform, username: str = "student", invalid: str | None = None, **changes
) -> dict[str, str]:
    login = platform.login_initiation(username, "101", invalid)
    return platform.authenticate(auth_request(login.fields, TOOL_CALLBACK, **changes)).fields


def decode(platform: lti13.Lti13Platform, id_token: str, **options: Any) -> dict[str, Any]:
    """Verify like a tool does: the key from the JWKS by kid, issuer and audience."""
    kid = jwt.get_unverified_header(id_token)["kid"]
    jwk = next(k for k in keys.jwks(platform.signing_key)["keys"] if k["kid"] == kid)
    return jwt.decode(
        id_token,
        jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        audience=platform.config.client_id,
        issuer=platform.config.issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"], **options},
    )


def test_login_initiation_is_moodles_third_party_login(platform: lti13.Lti13Platform) -> None:
    form = platform.login_initiation("student", "101")
    assert form.url == "http://127.0.0.1:8000/hub/lti13/oauth_login"
    assert form.fields["iss"] == "http://127.0.0.1:8100"
    assert form.fields["login_hint"] == "3"
    assert form.fields["client_id"] == "jupyterhub-dev"
    assert form.fields["lti_deployment_id"] == "1"
    assert form.fields["target_link_uri"] == TOOL_CALLBACK
    assert set(json.loads(form.fields["lti_message_hint"])) == {"cmid", "launchid"}


def test_a_valid_launch_posts_a_verifiable_id_token(platform: lti13.Lti13Platform) -> None:
    login = platform.login_initiation("gpu-student", "202")
    form = platform.authenticate(auth_request(login.fields, TOOL_CALLBACK))
    assert form.url == TOOL_CALLBACK
    assert form.fields["state"] == "state-from-the-tool"
    claims = decode(platform, form.fields["id_token"])
    assert claims["nonce"] == "nonce-from-the-tool"
    assert claims["sub"] == "4"
    assert claims[CLAIM + "message_type"] == "LtiResourceLinkRequest"
    assert claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == "1"
    assert claims[CLAIM + "target_link_uri"] == TOOL_CALLBACK
    assert claims[CLAIM + "resource_link"]["id"] == "202-jupyterhub"
    assert claims[CLAIM + "context"] == {
        "id": "202",
        "label": "DL202",
        "title": "Deep Learning Lab",
        "type": ["CourseSection"],
    }
    assert claims[CLAIM + "roles"] == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    assert claims[CLAIM + "ext"] == {"user_username": "gpu-student", "lms": "moodle-2"}
    assert claims[CLAIM + "custom"] == {"username": "gpu-student", "profile": "gpu"}
    assert claims[CLAIM + "tool_platform"]["product_family_code"] == "moodle"
    assert claims["email"] == "gpu-student@campus.example.edu"
    assert claims["exp"] - claims["iat"] == lti13.TOKEN_LIFETIME_S


def test_administrators_get_moodles_administrator_roles(platform: lti13.Lti13Platform) -> None:
    roles = decode(platform, launch(platform, "admin")["id_token"])[CLAIM + "roles"]
    assert "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator" in roles
    assert "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor" in roles


def test_bad_signature_fails_verification(platform: lti13.Lti13Platform) -> None:
    token = launch(platform, invalid="bad_signature")["id_token"]
    with pytest.raises(jwt.InvalidSignatureError):
        decode(platform, token)


def test_wrong_audience(platform: lti13.Lti13Platform) -> None:
    token = launch(platform, invalid="wrong_audience")["id_token"]
    with pytest.raises(jwt.InvalidAudienceError):
        decode(platform, token)
    assert decode(platform, token, verify_aud=False)["aud"] == lti13.WRONG_AUDIENCE


def test_unknown_issuer(platform: lti13.Lti13Platform) -> None:
    token = launch(platform, invalid="unknown_issuer")["id_token"]
    with pytest.raises(jwt.InvalidIssuerError):
        decode(platform, token)


def test_unknown_deployment_is_otherwise_valid(platform: lti13.Lti13Platform) -> None:
    claims = decode(platform, launch(platform, invalid="unknown_deployment")["id_token"])
    assert claims[CLAIM + "deployment_id"] == lti13.UNKNOWN_DEPLOYMENT


def test_missing_nonce(platform: lti13.Lti13Platform) -> None:
    claims = decode(platform, launch(platform, invalid="missing_nonce")["id_token"])
    assert "nonce" not in claims


def test_reused_nonce_carries_the_nonce_of_the_previous_valid_launch(
    platform: lti13.Lti13Platform,
) -> None:
    launch(platform, nonce="first-nonce")
    launch(platform, invalid="state_mismatch", nonce="ignored-nonce")
    fields = launch(platform, invalid="reused_nonce", nonce="second-nonce")
    assert decode(platform, fields["id_token"])["nonce"] == "first-nonce"
    assert fields["state"] == "state-from-the-tool"


def test_reused_nonce_needs_an_earlier_valid_launch(platform: lti13.Lti13Platform) -> None:
    with pytest.raises(LaunchError, match=r"no earlier valid LTI 1\.3 launch"):
        platform.login_initiation("student", "101", "reused_nonce")


def test_state_mismatch(platform: lti13.Lti13Platform) -> None:
    fields = launch(platform, invalid="state_mismatch")
    assert fields["state"] != "state-from-the-tool"
    assert decode(platform, fields["id_token"])["nonce"] == "nonce-from-the-tool"


def test_expired_token(platform: lti13.Lti13Platform) -> None:
    token = launch(platform, invalid="expired_token")["id_token"]
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(platform, token)
    assert decode(platform, token, verify_exp=False)["exp"] < time.time() - 600


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"redirect_uri": "https://evil.example.org/callback"},
            "redirect_uri .* is not registered",
        ),
        ({"nonce": DROP}, "nonce is missing"),
        ({"state": DROP}, "state is missing"),
        ({"client_id": "someone-else"}, "unknown client_id"),
        ({"login_hint": "999"}, "login_hint is not the launching user"),
        ({"response_type": "code"}, "response_type must be 'id_token'"),
        ({"scope": "profile"}, "scope must be 'openid'"),
        ({"lti_message_hint": "not json"}, "lti_message_hint is not ours"),
    ],
)
def test_bad_authentication_requests_are_refused(
    platform: lti13.Lti13Platform, changes: dict[str, str], message: str
) -> None:
    login = platform.login_initiation("student", "101")
    with pytest.raises(LaunchError, match=message) as refused:
        request = auth_request(login.fields, **{"redirect_uri": TOOL_CALLBACK, **changes})
        platform.authenticate(request)
    assert refused.value.status == 400


def test_a_launch_can_be_completed_only_once(platform: lti13.Lti13Platform) -> None:
    login = platform.login_initiation("student", "101")
    platform.authenticate(auth_request(login.fields, TOOL_CALLBACK))
    with pytest.raises(LaunchError, match="unknown or was already used"):
        platform.authenticate(auth_request(login.fields, TOOL_CALLBACK))


def test_the_signing_key_is_generated_once_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(keys.STATE_DIR_VARIABLE, str(tmp_path))
    first = keys.load_or_create()
    second = keys.load_or_create()
    assert keys.key_id(first) == keys.key_id(second)
    assert keys.default_key_file().stat().st_mode & 0o077 == 0


def test_a_configured_key_file_is_used(tmp_path: Path) -> None:
    key = keys.generate()
    path = tmp_path / "key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert keys.key_id(keys.load_or_create(path)) == keys.key_id(key)
    assert keys.jwks(key)["keys"][0]["kid"] == keys.key_id(key)
