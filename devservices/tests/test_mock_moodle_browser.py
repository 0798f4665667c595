"""A person's path through the mock Moodle in Chromium, with the tool's side played by routes."""

import urllib.parse
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from lti13_tool import auth_request

from service_fixtures import RunningMockMoodle, chromium_launch_args

HUB = "http://127.0.0.1:8000/"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_args())
        yield browser.new_page()
        browser.close()


@pytest.fixture(scope="module")
def moodle(mock_moodle_factory: Any) -> RunningMockMoodle:
    return mock_moodle_factory(HUB)


def posted_fields(request: Any) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.post_data or "", keep_blank_values=True))


def test_lti11_link_posts_the_signed_launch(browser_page: Any, moodle: RunningMockMoodle) -> None:
    launches: list[dict[str, str]] = []

    def tool(route: Any) -> None:
        launches.append(posted_fields(route.request))
        route.fulfill(status=200, body="tool reached")

    browser_page.route(moodle.platform["lti11"]["launch_url"], tool)
    browser_page.goto(moodle.course_url("student", "101"))
    browser_page.click("#launch-lti11")
    browser_page.wait_for_selector("text=tool reached")
    (launch,) = launches
    assert launch["ext_user_username"] == "student"
    assert launch["oauth_consumer_key"] == moodle.platform["lti11"]["consumer_key"]
    assert launch["oauth_signature"]


def test_lti13_link_runs_the_oidc_login_to_the_id_token(
    browser_page: Any, moodle: RunningMockMoodle
) -> None:
    lti13 = moodle.platform["lti13"]
    callbacks: list[dict[str, str]] = []

    def login_initiation(route: Any) -> None:
        login = posted_fields(route.request)
        request = auth_request(login, lti13["redirect_uris"][0], "browser-state", "browser-nonce")
        location = f"{lti13['authorize_url']}?{urllib.parse.urlencode(request)}"
        route.fulfill(status=302, headers={"Location": location})

    def callback(route: Any) -> None:
        callbacks.append(posted_fields(route.request))
        route.fulfill(status=200, body="signed in")

    browser_page.route(lti13["login_url"], login_initiation)
    browser_page.route(lti13["redirect_uris"][0], callback)
    browser_page.goto(moodle.course_url("gpu-student", "202"))
    browser_page.click("#launch-lti13")
    browser_page.wait_for_selector("text=signed in")
    (posted,) = callbacks
    assert posted["state"] == "browser-state"
    key = jwt.PyJWKClient(lti13["jwks_url"]).get_signing_key_from_jwt(posted["id_token"]).key
    claims = jwt.decode(
        posted["id_token"],
        key,
        algorithms=["RS256"],
        audience=lti13["client_id"],
        issuer=lti13["issuer"],
    )
    assert claims["nonce"] == "browser-nonce"
    assert claims["sub"] == "4"
