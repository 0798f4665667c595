"""The trust model's stories: who a launch from Moodle may become, in a browser on the cluster.

The dev Moodle may claim every campus-directory name but the admin's (helm/values-dev.yaml,
`consumer_trust`); `s.dent` is a Moodle-local login of the campus user `student`.
"""

from __future__ import annotations

import json
import re

import pytest
from environment import Environment
from hub_api import HubAdmin, signed_in_session
from keycloak_admin import KeycloakAdmin
from pages import HubPages, KeycloakLoginPage, LabPage, MockMoodlePages
from playwright.sync_api import BrowserContext, Page, expect
from waits import wait_until

from conftest import sign_in

pytestmark = pytest.mark.cluster

# A course no profile is mapped to: a launch from it opens the hub, not a lab.
PLAIN_COURSE = "202"
# A course mapped to the `cpu` profile (dev values' courseProfiles): a launch opens that lab.
LAB_COURSE = "101"
MOODLE_LOCAL_LOGIN = "s.dent"
MOODLE_LOCAL_IDENTITY = {"source": "lti11", "issuer": "moodle-dev", "subject": "3001"}
LOOK_ALIKE_OF_ADMIN = "\uff41\uff44\uff4d\uff49\uff4e"
REFRESH_WAIT_S = 120  # the dev values' auth_refresh_age (30 s) and a page load or two


def signed_in_as(page: Page, env: Environment) -> str | None:
    """The hub user of the page's session (None when it has none)."""
    response = signed_in_session(page.context, env.hub_url).get(
        f"{env.hub_url}/hub/api/user", timeout=30
    )
    return response.json()["name"] if response.ok else None


def hub_groups(hub_admin: HubAdmin, username: str) -> set[str]:
    user = hub_admin.user(username)
    return set(user["groups"]) if user else set()


def test_a_moodle_launch_as_the_admin_never_signs_in_as_admin(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """11. Someone launches from Moodle as `admin`: the hub asks to link a campus account and
    signs nobody in, so the admin page stays out of reach."""
    page = new_context().new_page()

    MockMoodlePages(page, env.mock_moodle_url).launch("1.1", "admin", PLAIN_COURSE)

    expect(page.locator("#multilogin-link-start")).to_be_visible()
    assert signed_in_as(page, env) is None
    HubPages(page, env).goto_admin()
    assert re.search(r"/hub/login", page.url), page.url
    assert hub_admin.user("admin")["admin"]


def test_a_look_alike_of_a_name_is_refused(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """12. A Moodle account named with full-width letters that look like `admin` is refused
    with a message, and no account is made."""
    page = new_context().new_page()

    MockMoodlePages(page, env.mock_moodle_url).launch("1.3", LOOK_ALIKE_OF_ADMIN, PLAIN_COURSE)

    assert "look like other letters" in HubPages(page, env).error_message()
    assert signed_in_as(page, env) is None
    assert hub_admin.user(LOOK_ALIKE_OF_ADMIN) is None


def test_leaving_a_keycloak_group_takes_effect_in_a_moodle_session(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """13. `gpu-student` signs in with the campus login, then comes back through Moodle; taken
    out of `gpu` in Keycloak, they lose the group at the hub's next refresh, in that Moodle
    session."""
    context = new_context()
    sign_in(context, env, "gpu-student")
    page = context.new_page()
    MockMoodlePages(page, env.mock_moodle_url).launch("1.1", "gpu-student", PLAIN_COURSE)
    page.wait_for_url(re.compile(re.escape(env.hub_url) + r"/(hub|user)/"))
    assert signed_in_as(page, env) == "gpu-student"
    assert "gpu" in hub_groups(hub_admin, "gpu-student")

    with KeycloakAdmin(env.keycloak_url).without_group("gpu-student", "gpu"):

        def refreshed_without_gpu() -> bool:
            page.goto(f"{env.hub_url}/hub/home")
            return "gpu" not in hub_groups(hub_admin, "gpu-student")

        wait_until(refreshed_without_gpu, timeout_s=REFRESH_WAIT_S, what="gpu to be taken away")
        assert signed_in_as(page, env) == "gpu-student"


def test_a_moodle_local_account_is_linked_once_by_the_campus_login(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """14. `student` launches from a Moodle-local login: the hub asks them to link it; they sign
    in with the campus login (asked for the password although a campus session is open), confirm,
    and from then on the Moodle link opens their campus account, with its files."""
    hub_admin.unlink_identity("student", MOODLE_LOCAL_IDENTITY)
    context = new_context()
    sign_in(context, env, "student")
    page = context.new_page()
    moodle = MockMoodlePages(page, env.mock_moodle_url)

    moodle.launch("1.1", MOODLE_LOCAL_LOGIN, PLAIN_COURSE)
    expect(page.locator("#multilogin-link-start")).to_contain_text(MOODLE_LOCAL_LOGIN)
    page.locator("#multilogin-continue").click()
    account = env.accounts["student"]
    KeycloakLoginPage(page).reauthenticate(account.password)
    expect(page.locator("#multilogin-link-confirm")).to_contain_text("'student'")
    page.locator("#multilogin-confirm").click()
    expect(page.locator("#multilogin-link-done")).to_be_visible()

    moodle_only = new_context().new_page()
    MockMoodlePages(moodle_only, env.mock_moodle_url).launch("1.1", MOODLE_LOCAL_LOGIN, LAB_COURSE)
    lab = LabPage(moodle_only)
    lab.wait_until_loaded()
    assert moodle_only.url.startswith(env.user_url("student"))
    hub_admin.write_file("student", "linked.txt", "the campus account's home")
    listing = lab.fetch(env.user_url("student", "api/contents/"))
    assert "linked.txt" in {item["name"] for item in json.loads(listing["body"])["content"]}
    assert signed_in_as(moodle_only, env) == "student"
    moodle_only.goto(f"{env.hub_url}/hub/linked-identities")
    expect(moodle_only.locator("#multilogin-links")).to_contain_text("3001")
    hub_admin.unlink_identity("student", MOODLE_LOCAL_IDENTITY)
