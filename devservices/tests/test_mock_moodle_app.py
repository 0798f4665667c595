"""The mock Moodle as a process on a port: pages, launch forms, the auth endpoint, JWKS, the CLI."""

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from lti13_tool import auth_request
from ltiauthenticator.lti13.validator import LTI13LaunchValidator

from mock_moodle.config import for_hub
from mock_moodle.server import module_command, module_environment
from service_fixtures import RunningMockMoodle

HUB = "http://127.0.0.1:8000/prefix/"


class FormParser(HTMLParser):
    """The action and hidden fields of the first form on a page, as a browser would post it."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values["action"]
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"] or ""] = values["value"] or ""


def get(url: str, accept: str = "text/html") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def moodle(mock_moodle_factory: Any) -> RunningMockMoodle:
    return mock_moodle_factory(HUB)


def test_tool_urls_follow_the_hub_url_and_prefix(moodle: RunningMockMoodle) -> None:
    assert moodle.platform["lti11"]["launch_url"] == "http://127.0.0.1:8000/prefix/hub/lti/launch"
    lti13 = moodle.platform["lti13"]
    assert lti13["login_url"] == "http://127.0.0.1:8000/prefix/hub/lti13/oauth_login"
    assert lti13["redirect_uris"] == ["http://127.0.0.1:8000/prefix/hub/lti13/oauth_callback"]
    assert lti13["issuer"] == moodle.url
    assert lti13["authorize_url"] == f"{moodle.url}/mod/lti/auth.php"


def test_another_host_name_makes_the_mock_cross_site(mock_moodle_factory: Any) -> None:
    other = mock_moodle_factory(HUB, host="localhost")
    assert other.url.startswith("http://localhost:")
    assert other.platform["lti13"]["issuer"] == other.url
    assert other.platform["lti13"]["jwks_url"] == f"{other.url}/mod/lti/certs.php"
    status, _ = get(other.platform["lti13"]["jwks_url"])
    assert status == 200


def test_the_index_links_each_course_for_each_user(moodle: RunningMockMoodle) -> None:
    status, page = get(moodle.url + "/")
    assert status == 200
    for user in moodle.users:
        for course in moodle.courses:
            assert f'id="course-{course}-as-{user}"' in page


def test_the_course_page_offers_valid_and_invalid_launches(moodle: RunningMockMoodle) -> None:
    status, page = get(moodle.course_url("instructor", "202"))
    assert status == 200
    assert "Ines Tructor" in page
    for link in ("launch-lti11", "launch-lti13", "lti11-stale_timestamp", "lti13-expired_token"):
        assert f'id="{link}"' in page
    for mode in moodle.platform["invalid_modes"]["lti13"]:
        assert f'id="lti13-{mode}"' in page


def test_the_embedded_launch_puts_the_lti13_launch_in_an_iframe(moodle: RunningMockMoodle) -> None:
    status, page = get(moodle.course_url("student", "101"))
    assert 'id="launch-lti13-embedded" href="/lti13/embedded?user=student&amp;course=101"' in page
    status, page = get(moodle.embedded_launch_url("student", "101"))
    assert status == 200
    assert 'id="tool-frame"' in page
    assert 'src="/lti13/launch?user=student&course=101"' in page


@pytest.mark.parametrize(
    ("user", "course", "missing"),
    [("nobody", "101", "no user &#x27;nobody&#x27;"), ("student", '"><script>', "no course")],
)
def test_the_embedded_launch_refuses_unknown_users_and_courses(
    moodle: RunningMockMoodle, user: str, course: str, missing: str
) -> None:
    status, page = get(moodle.embedded_launch_url(user, course))
    assert status == 404
    assert missing in page
    assert "<script>" not in page


def test_the_lti11_page_auto_submits_the_signed_form(moodle: RunningMockMoodle) -> None:
    status, page = get(moodle.launch_url("1.1", "student", "101"))
    assert status == 200
    form = FormParser()
    form.feed(page)
    assert form.action == moodle.platform["lti11"]["launch_url"]
    assert form.fields["ext_user_username"] == "student"
    assert form.fields["oauth_signature"]
    assert 'getElementById("launch-form").submit()' in page


def test_an_lti13_launch_over_http_passes_ltiauthenticators_checks(
    moodle: RunningMockMoodle,
) -> None:
    login = moodle.launch_form("1.3", "gpu-student", "202")["fields"]
    request = auth_request(login, moodle.platform["lti13"]["redirect_uris"][0], "s", "n")
    url = moodle.platform["lti13"]["authorize_url"] + "?" + urllib.parse.urlencode(request)
    status, page = get(url)
    assert status == 200
    form = FormParser()
    form.feed(page)
    assert form.action == request["redirect_uri"]
    assert form.fields["state"] == "s"
    validator = LTI13LaunchValidator()
    claims = validator.verify_and_decode_jwt(
        encoded_jwt=form.fields["id_token"],
        issuer=moodle.platform["lti13"]["issuer"],
        audience=moodle.platform["lti13"]["client_id"],
        jwks_endpoint=moodle.platform["lti13"]["jwks_url"],
        jwks_algorithms=["RS256"],
    )
    validator.validate_id_token(claims)
    assert claims["nonce"] == "n"
    assert claims["https://purl.imsglobal.org/spec/lti/claim/ext"]["user_username"] == "gpu-student"


def test_a_bad_auth_request_gets_an_error_page_and_json(moodle: RunningMockMoodle) -> None:
    url = moodle.platform["lti13"]["authorize_url"] + "?scope=openid"
    status, page = get(url)
    assert status == 400
    assert 'id="error-message"' in page
    status, body = get(url, accept="application/json")
    assert status == 400
    assert json.loads(body)["error"] == "invalid_request: response_type must be 'id_token'"


def test_unknown_course_is_a_404_page(moodle: RunningMockMoodle) -> None:
    status, page = get(moodle.course_url("student", "nope"))
    assert status == 404
    assert "no course &#x27;nope&#x27;" in page


def test_jwks_serves_the_signing_key(moodle: RunningMockMoodle) -> None:
    status, body = get(moodle.platform["lti13"]["jwks_url"])
    assert status == 200
    (key,) = json.loads(body)["keys"]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["kid"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*module_command(), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=module_environment(),
    )


def test_an_invalid_config_is_reported_without_a_traceback(tmp_path: Path) -> None:
    data = for_hub(HUB)
    data["users"][0]["roles"] = ["Student"]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(data))
    result = run_cli("--config", str(config_file), "--port", "1")
    assert result.returncode == 2
    assert "users/0/roles/0: 'Student' is not one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_reported(moodle: RunningMockMoodle) -> None:
    port = urllib.parse.urlsplit(moodle.url).port
    result = run_cli("--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def lecture(mock_moodle_factory: Any) -> RunningMockMoodle:
    cohort = {"prefix": "learner-", "count": 150, "first_user_id": 10001, "roles": ["Learner"]}
    return mock_moodle_factory(HUB, cohorts=[cohort])


def test_a_cohort_learner_launches_like_a_listed_user(lecture: RunningMockMoodle) -> None:
    status, page = get(lecture.launch_url("1.1", "learner-150", "101"))
    assert status == 200
    form = FormParser()
    form.feed(page)
    assert form.fields["ext_user_username"] == "learner-150"
    assert form.fields["user_id"] == "10150"


@pytest.mark.parametrize("user", ["learner-151", "learner-000", "learner-1", "learner-<b>1"])
def test_a_learner_outside_the_cohort_is_refused(lecture: RunningMockMoodle, user: str) -> None:
    status, page = get(lecture.launch_url("1.1", user, "101"), accept="application/json")
    assert status == 404
    assert "no user" in page
