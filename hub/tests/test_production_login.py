"""helm/values-production.yaml's sign-in, as a campus gets it: its groups and entitlement rules
agree, so that a person in a listed Keycloak group gets in and is offered the profiles meant for
that group, and a person in none gets the clear 403 page.

The hub is the chart's configuration of those values (hubconfig.configure, the real
MultiLoginAuthenticator and ProfileSpawner; only the pods are missing), signed in to through a
real Keycloak (devservices' campus realm, whose groups are the ones the example lists) with
Keycloak's own login form. The secrets come from the environment, as the example's
`hub.extraEnv` gives them from a Secret.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml
from hub_fakes import VALUES_FILES, values_with
from hub_in_process import HubUnderTest, running_hub
from jupyterhub import orm
from jupyterhub.tests.utils import AsyncSession

from service_fixtures import KeycloakRealm, keycloak

pytestmark = pytest.mark.integration

__all__ = ["keycloak"]

LOGIN_FORM = re.compile(r'<form id="kc-form-login"[^>]*action="([^"]+)"')
PROFILE_NAMES = {"cpu": "Python lab", "nlp": "NLP lab", "gpu": "Deep learning lab (GPU)"}


def production_values(realm: KeycloakRealm) -> dict:
    """The example's values, with what the test machine changes: Keycloak's address, one origin
    (no user subdomains), the hub database in a file of the working directory, and no shared
    course volume (its claim's name comes from the chart's Deployment)."""
    example = yaml.safe_load((VALUES_FILES / "values-production.yaml").read_text())
    chart_values = values_with(example)
    config = chart_values["hub"]["config"]
    del config["JupyterHub"]["subdomain_host"]
    config["KeycloakLogin"]["keycloak_url"] = realm.server.url
    # The callback on the test hub's own address (the request's), which the realm accepts.
    del config["KeycloakLogin"]["oauth_callback_url"]
    chart_values["hub"]["db"] = {"type": "sqlite-pvc"}
    chart_values["singleuser"]["storage"]["shared"]["enabled"] = False
    return chart_values


async def campus_login(hub: HubUnderTest, realm: KeycloakRealm, username: str) -> tuple:
    """Keycloak's login form, filled in as a browser does; the hub's last response."""
    browser = AsyncSession()
    login_page = await browser.get(hub.url("oauth_login"))
    assert login_page.status_code == 200, login_page.text[-2000:]
    # Keycloak's session cookies are Secure; a browser sends them to http://127.0.0.1 (a secure
    # context), requests only over https.
    for cookie in browser.cookies:
        cookie.secure = False
    action = html.unescape(LOGIN_FORM.search(login_page.text)[1])
    user = realm.users[username]
    credentials = {"username": user.username, "password": user.password, "credentialId": ""}
    return browser, await browser.post(action, data=credentials)


@pytest.fixture
def secrets_from_the_environment(
    keycloak: KeycloakRealm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", keycloak.client_secret)
    monkeypatch.setenv("MOODLE_LTI11_SECRET", "moodle-lti11-secret-of-the-test")
    # The chart's SQLite file is relative to the hub's working directory.
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("secrets_from_the_environment")
@pytest.mark.parametrize(
    ("username", "profiles", "groups"),
    [
        ("student", ["cpu"], []),
        ("gpu-student", ["cpu", "gpu"], ["gpu"]),
        ("instructor", ["cpu", "nlp", "gpu"], ["instructor"]),
    ],
)
async def test_a_person_in_a_listed_group_gets_in_and_sees_their_profiles(
    keycloak: KeycloakRealm, username: str, profiles: list[str], groups: list[str]
) -> None:
    async with running_hub(production_values(keycloak), {}, real_login=True) as hub:
        browser, landed = await campus_login(hub, keycloak, username)
        assert landed.status_code == 200, landed.text[-2000:]
        assert sorted(group.name for group in hub.app.users[username].groups) == groups
        spawn_page = await browser.get(hub.url("spawn"))
        offered = [slug for slug, name in PROFILE_NAMES.items() if name in spawn_page.text]
        assert offered == profiles


@pytest.mark.usefixtures("secrets_from_the_environment")
async def test_a_person_in_no_listed_group_gets_the_clear_403_page(keycloak: KeycloakRealm) -> None:
    async with running_hub(production_values(keycloak), {}, real_login=True) as hub:
        _, refused = await campus_login(hub, keycloak, "outsider")
        assert refused.status_code == 403
        assert "not allowed to use this hub" in refused.text
        assert hub.app.db.query(orm.User).filter_by(name="outsider").first() is None
