"""Page objects for the hub, Keycloak, JupyterLab and the mock Moodle.

Every wait is on a page element or a URL, with Playwright's own timeouts; nothing sleeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from environment import Environment
from playwright.sync_api import Page, expect

# Starting a lab on the 2-core dev machine: pod scheduling, volume, JupyterLab start.
SPAWN_TIMEOUT_MS = 300_000
LAB_TIMEOUT_MS = 120_000
KERNEL_TIMEOUT_MS = 120_000
# The status bar's kernel item: "<kernel name> | <status>".
KERNEL_IDLE = re.compile(r"\| Idle$")


@dataclass
class KeycloakLoginPage:
    page: Page

    def sign_in(self, username: str, password: str) -> None:
        expect(self.page.locator("#kc-form-login")).to_be_visible()
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("#kc-login")

    def reauthenticate(self, password: str) -> None:
        """Keycloak's form for a person whose campus session is open but who must give the
        password again (OpenID Connect `prompt=login`): it shows the username, asks only for
        the password."""
        expect(self.page.locator("body")).to_contain_text("Please re-authenticate")
        self.page.fill("#password", password)
        self.page.click("#kc-login")


@dataclass
class HubPages:
    """The hub's own pages: login, spawn form, spawn progress, home, admin."""

    page: Page
    env: Environment

    @property
    def hub_url(self) -> str:
        return self.env.hub_url

    def sign_in_with_keycloak(self, username: str, password: str) -> None:
        self.page.goto(f"{self.hub_url}/hub/login")
        self.page.locator("#multilogin-keycloak").click()
        KeycloakLoginPage(self.page).sign_in(username, password)
        # Back at the hub (its spawn form, the spawn progress) or in a running lab, which is on
        # the user's own origin.
        hub = re.escape(self.hub_url) + "/hub/"
        self.page.wait_for_url(re.compile(f"{hub}|{self.env.user_url_pattern.pattern}"))

    def sign_out(self) -> None:
        """The Logout button of the hub's home page: back on the hub's login page once every
        session ended."""
        self.page.goto(f"{self.hub_url}/hub/home")
        self.page.locator("#logout").click()
        self.page.wait_for_url(f"{self.hub_url}/hub/login")

    def open_spawn_form(self) -> None:
        self.page.goto(f"{self.hub_url}/hub/spawn")
        expect(self.page.locator("#spawn_form")).to_be_visible()

    def profile_slugs(self) -> list[str]:
        """The profiles the form offers (KubeSpawner's radio buttons named `profile`)."""
        radios = self.page.locator("#spawn_form input[name='profile']")
        return [radios.nth(i).get_attribute("value") or "" for i in range(radios.count())]

    def choose_profile(self, slug: str) -> None:
        self.page.locator(f"#spawn_form input[name='profile'][value='{slug}']").check()

    def choose_option(self, slug: str, option: str, value: str) -> None:
        self.page.locator(
            f"#spawn_form select[name='profile-option-{slug}--{option}']"
        ).select_option(value)

    def option_labels(self, slug: str, option: str) -> dict[str, str]:
        """The choices of a profile's option: each value and the text the form shows for it."""
        choices = self.page.locator(
            f"#spawn_form select[name='profile-option-{slug}--{option}'] option"
        )
        return {
            choices.nth(i).get_attribute("value") or "": choices.nth(i).inner_text()
            for i in range(choices.count())
        }

    def forge_profile(self, slug: str) -> None:
        """Point the checked radio button at a profile the form does not offer."""
        self.page.locator("#spawn_form input[name='profile']:checked").evaluate(
            "(radio, slug) => { radio.value = slug; }", slug
        )

    def submit_spawn_form(self) -> None:
        self.page.locator("#spawn_form [type='submit']").click()

    def error_message(self) -> str:
        """The message of the hub's error page (or the spawn form's error)."""
        locator = self.page.locator(".error, #error-message, .alert-danger, .container").first
        expect(locator).to_be_visible()
        return locator.inner_text()

    def goto_admin(self) -> int:
        response = self.page.goto(f"{self.hub_url}/hub/admin")
        return response.status if response else 0


@dataclass
class LabPage:
    """JupyterLab of one user's server."""

    page: Page

    def wait_until_loaded(self, timeout_ms: int = SPAWN_TIMEOUT_MS) -> None:
        """Wait for JupyterLab's main area; fail at once with the hub's message if it refuses."""
        lab = self.page.locator(".jp-LabShell")
        refused = self.page.locator("div.error, #progress-message:has-text('failed')")
        expect(lab.or_(refused).first).to_be_visible(timeout=timeout_ms)
        if not lab.is_visible():
            raise AssertionError(f"no JupyterLab; the hub says: {refused.first.inner_text()}")
        expect(self.page.locator("#jp-main-dock-panel")).to_be_visible(timeout=LAB_TIMEOUT_MS)

    def open_launcher(self) -> None:
        """A fresh workspace with only the launcher: restored tabs and dialogs are not ours."""
        lab_url = re.sub(r"(/user/[^/]+/lab).*", r"\1", self.page.url)
        self.page.goto(f"{lab_url}?reset")
        expect(self.page.locator(".jp-Launcher").first).to_be_visible(timeout=LAB_TIMEOUT_MS)

    def open_someone_elses(self, url: str) -> None:
        """Open another user's lab at `url` (as an admin): the hub asks to authorize the access
        once, unless this admin already did."""
        self.page.goto(url)
        authorize = self.page.get_by_role("button", name="Authorize")
        expect(self.page.locator(".jp-LabShell").or_(authorize).first).to_be_visible(
            timeout=LAB_TIMEOUT_MS
        )
        if authorize.is_visible():
            authorize.click()
        self.wait_until_loaded()

    def fetch(self, url: str) -> dict[str, Any]:
        """GET `url` from script in this page, with its cookies and its XSRF token, as
        JupyterLab's own requests go (a server refuses a browser's cookie-authenticated API
        request without it): `{"status": ..., "body": ...}`, or `{"blocked": message}` when the
        browser refuses (a cross-origin read without CORS)."""
        return self.page.evaluate(
            """async url => {
                const xsrf = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
                const headers = xsrf ? {"X-XSRFToken": decodeURIComponent(xsrf[1])} : {};
                try {
                    const response = await fetch(url, {credentials: "include", headers});
                    return {status: response.status, body: await response.text()};
                } catch (error) {
                    return {blocked: String(error)};
                }
            }""",
            url,
        )

    def new_notebook(self) -> None:
        self.open_launcher()
        self.page.locator(".jp-Launcher .jp-LauncherCard[data-category='Notebook']").first.click()
        expect(self.page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(
            timeout=LAB_TIMEOUT_MS
        )

    def run_cell(self, code: str) -> str:
        """Type `code` into the active notebook's last cell, run it and return its output."""
        panel = self.page.locator(".jp-NotebookPanel:visible")
        # The status bar says "Idle" only once the kernel is connected and has answered; the
        # toolbar's execution indicator reads "idle" before a kernel even exists, and a cell run
        # then is silently not sent (seen in CI: the cell stayed `[ ]`).
        kernel_ready = self.page.locator(".jp-StatusBar-TextItem", has_text=KERNEL_IDLE)
        expect(kernel_ready).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
        editor = panel.locator(".jp-Cell .cm-content").last
        editor.click()
        self.page.keyboard.type(code)
        self.page.keyboard.press("Shift+Enter")
        output = panel.locator(".jp-OutputArea-output").first
        expect(output).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
        return output.inner_text()

    def notifications(self) -> list[str]:
        """The texts of the notifications JupyterLab shows as toasts."""
        return self.page.locator(".Toastify__toast").all_inner_texts()

    def resource_usage(self) -> list[str]:
        """The texts of the resource-usage indicators in JupyterLab's top bar (memory, CPU),
        once the first has its figures."""
        indicators = self.page.locator("#jp-top-panel .jp-IndicatorContainer")
        expect(indicators.filter(has_text=re.compile(r"Mem:.*\d")).first).to_be_visible(
            timeout=LAB_TIMEOUT_MS
        )
        return indicators.all_inner_texts()

    def new_terminal(self) -> None:
        self.open_launcher()
        self.page.locator(".jp-Launcher .jp-LauncherCard[title*='terminal' i]").first.click()
        expect(self.page.locator(".jp-Terminal .xterm").first).to_be_visible(timeout=LAB_TIMEOUT_MS)

    def type_in_terminal(self, command: str) -> None:
        self.page.locator(".jp-Terminal .xterm").first.click()
        self.page.keyboard.type(command)
        self.page.keyboard.press("Enter")


@dataclass
class MockMoodlePages:
    """The mock Moodle's course page and its launch links."""

    page: Page
    url: str

    def open_course(self, username: str, context_id: str) -> None:
        self.page.goto(f"{self.url}/course/{context_id}?user={username}")

    def launch(self, lti_version: str, username: str, context_id: str) -> None:
        """Click the course page's launch link for `lti_version` ("1.1" or "1.3")."""
        self.open_course(username, context_id)
        link_id = {"1.1": "#launch-lti11", "1.3": "#launch-lti13"}[lti_version]
        self.page.locator(link_id).click()
