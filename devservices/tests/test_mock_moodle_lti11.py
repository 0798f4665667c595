"""LTI 1.1 launches of the mock Moodle, checked with oauthlib and ltiauthenticator's validator."""

import time
import urllib.parse

import pytest
from ltiauthenticator.lti11.validator import LTI11LaunchValidator
from oauthlib.common import Request
from oauthlib.oauth1.rfc5849 import signature
from tornado.web import HTTPError

from mock_moodle import config, lti11, oauth1
from mock_moodle.launches import LaunchError


@pytest.fixture
def moodle_config() -> config.Config:
    data = config.load(config.EXAMPLE_CONFIG)
    return data.for_port(8100)


@pytest.fixture
def platform(moodle_config: config.Config) -> lti11.Lti11Platform:
    return lti11.Lti11Platform(moodle_config)


@pytest.fixture(autouse=True)
def fresh_nonce_cache() -> None:
    """ltiauthenticator keeps seen nonces class-wide; each test starts with none."""
    LTI11LaunchValidator.nonces.clear()


def oauthlib_verifies(url: str, fields: dict[str, str], secret: str) -> bool:
    """Check a signed form POST with oauthlib, independently of the mock's signer."""
    request = Request(url, "POST", body=urllib.parse.urlencode(fields))
    request.params = signature.collect_parameters(
        uri_query=urllib.parse.urlsplit(url).query,
        body=list(fields.items()),
        exclude_oauth_signature=True,
    )
    request.signature = fields.get("oauth_signature", "")
    return signature.verify_hmac_sha1(request, client_secret=secret)


def validate_as_tool(platform: lti11.Lti11Platform, fields: dict[str, str]) -> bool:
    consumers = {platform.config.consumer_key: platform.config.shared_secret}
    return LTI11LaunchValidator(consumers).validate_launch_request(
        platform.config.tool.lti11_launch_url, {}, dict(fields)
    )


def test_a_valid_launch_verifies_with_oauthlib(platform: lti11.Lti11Platform) -> None:
    form = platform.launch("student", "101")
    assert form.url == "http://127.0.0.1:8000/hub/lti/launch"
    assert oauthlib_verifies(form.url, form.fields, platform.config.shared_secret)
    assert not oauthlib_verifies(form.url, form.fields, "another secret")


def test_a_valid_launch_passes_ltiauthenticators_validator(
    platform: lti11.Lti11Platform,
) -> None:
    assert validate_as_tool(platform, platform.launch("instructor", "202").fields)


def test_the_signer_agrees_with_oauthlib_on_query_strings_and_reserved_characters() -> None:
    url = "HTTP://Example.COM:80/launch?b=2&a=x%20y"
    fields = {"name": "Jörg & Ünal", "oauth_nonce": "n~1", "empty": ""}
    fields["oauth_signature"] = oauth1.sign(url, fields, "s3cret&+")
    assert oauthlib_verifies(url, fields, "s3cret&+")


def test_the_launch_carries_moodles_parameter_set(platform: lti11.Lti11Platform) -> None:
    fields = platform.launch("admin", "202").fields
    assert fields["lti_message_type"] == "basic-lti-launch-request"
    assert fields["lti_version"] == "LTI-1p0"
    assert fields["ext_user_username"] == "admin"
    assert fields["user_id"] == "2"
    assert fields["context_id"] == "202"
    assert fields["context_title"] == "Deep Learning Lab"
    assert fields["context_label"] == "DL202"
    assert fields["roles"] == (
        "Instructor,urn:lti:sysrole:ims/lis/Administrator,urn:lti:instrole:ims/lis/Administrator"
    )
    assert fields["lis_person_contact_email_primary"] == "admin@campus.example.edu"
    assert fields["lis_person_name_full"] == "Ada Min"
    assert fields["tool_consumer_instance_guid"] == "mock-moodle.localhost"
    assert fields["tool_consumer_info_product_family_code"] == "moodle"
    assert fields["launch_presentation_return_url"].startswith("http://127.0.0.1:8100/mod/lti/")
    assert fields["custom_username"] == "admin"  # $User.username expanded, as Moodle does
    assert fields["custom_profile"] == "gpu"
    assert fields["oauth_signature_method"] == "HMAC-SHA1"
    assert fields["oauth_consumer_key"] == "moodle-dev"


def test_each_launch_has_a_fresh_nonce(platform: lti11.Lti11Platform) -> None:
    first = platform.launch("student", "101").fields
    second = platform.launch("student", "101").fields
    assert first["oauth_nonce"] != second["oauth_nonce"]
    assert abs(int(first["oauth_timestamp"]) - time.time()) < 5


def test_bad_signature_is_signed_with_another_secret(platform: lti11.Lti11Platform) -> None:
    form = platform.launch("student", "101", invalid="bad_signature")
    assert not oauthlib_verifies(form.url, form.fields, platform.config.shared_secret)
    with pytest.raises(HTTPError, match="Invalid oauth_signature"):
        validate_as_tool(platform, form.fields)


def test_missing_signature_has_no_signature(platform: lti11.Lti11Platform) -> None:
    form = platform.launch("student", "101", invalid="missing_signature")
    assert "oauth_signature" not in form.fields
    with pytest.raises(HTTPError, match="oauth_signature not included"):
        validate_as_tool(platform, form.fields)


def test_unknown_consumer_key_is_otherwise_well_formed(platform: lti11.Lti11Platform) -> None:
    form = platform.launch("student", "101", invalid="unknown_consumer_key")
    assert form.fields["oauth_consumer_key"] == lti11.UNKNOWN_CONSUMER_KEY
    assert form.fields["oauth_consumer_key"] != platform.config.consumer_key
    with pytest.raises(HTTPError, match="unknown oauth_consumer_key"):
        validate_as_tool(platform, form.fields)


def test_stale_timestamp_is_correctly_signed_but_old(platform: lti11.Lti11Platform) -> None:
    form = platform.launch("student", "101", invalid="stale_timestamp")
    assert oauthlib_verifies(form.url, form.fields, platform.config.shared_secret)
    assert time.time() - int(form.fields["oauth_timestamp"]) >= lti11.STALE_AGE_S - 5
    with pytest.raises(HTTPError, match="Timestamp given is invalid"):
        validate_as_tool(platform, form.fields)


def test_replayed_nonce_resends_the_previous_launch(platform: lti11.Lti11Platform) -> None:
    original = platform.launch("student", "101")
    assert validate_as_tool(platform, original.fields)
    replay = platform.launch("student", "101", invalid="replayed_nonce")
    assert replay == original
    assert oauthlib_verifies(replay.url, replay.fields, platform.config.shared_secret)
    with pytest.raises(HTTPError, match="already used"):
        validate_as_tool(platform, replay.fields)


def test_invalid_launches_do_not_become_the_one_replayed(platform: lti11.Lti11Platform) -> None:
    valid = platform.launch("student", "101")
    platform.launch("student", "101", invalid="bad_signature")
    assert platform.launch("student", "101", invalid="replayed_nonce") == valid


def test_a_replay_needs_an_earlier_launch(platform: lti11.Lti11Platform) -> None:
    with pytest.raises(LaunchError, match=r"no earlier LTI 1\.1 launch") as refused:
        platform.launch("student", "101", invalid="replayed_nonce")
    assert refused.value.status == 409


@pytest.mark.parametrize(
    ("username", "course", "invalid", "message"),
    [
        ("nobody", "101", None, "no user 'nobody'"),
        ("student", "999", None, "no course '999'"),
        ("student", "101", "wrong_everything", "unknown LTI 1.1 invalid mode"),
    ],
)
def test_unknown_inputs_are_refused(
    platform: lti11.Lti11Platform, username: str, course: str, invalid: str | None, message: str
) -> None:
    with pytest.raises(LaunchError, match=message):
        platform.launch(username, course, invalid)
