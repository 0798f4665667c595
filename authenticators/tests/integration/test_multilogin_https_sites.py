"""Three sites over HTTPS: the hub at https://hub.campus.test behind a real
configurable-http-proxy that terminates TLS (the chart's `proxy.https`, its image run by Docker),
Keycloak at https://login.campus.test, the mock Moodle at https://moodle.school.test, Chromium
trusting the run's CA. The names are
routed to loopback ports (`--host-resolver-rules`), so the launch is a real cross-site form post
and the browser applies its SameSite and Secure rules as for a campus."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from multilogin_harness import HubProcess, free_port

from dev_keycloak import server as keycloak_server
from devenv import tls
from devenv.host_names import HostRoute, resolve_in_process
from service_fixtures import (
    KeycloakRealm,
    RunningMockMoodle,
    SiteTls,
    chromium_launch_args,
    fresh_page,
    keycloak_over_https,
    launched_chromium,
)
from tools import docker
from tools.bootstrap.run import RunError
from tools.images import build, spec

pytestmark = pytest.mark.integration

HUB = "https://hub.campus.test"
LOGIN = "https://login.campus.test"
MOODLE = "https://moodle.school.test"
CAMPUS_MOODLE_TRUST = {"name": "moodle", "authoritative_usernames": "(?!admin$)[a-z0-9-]+"}


@dataclass(frozen=True)
class Ports:
    """The loopback ports behind the sites' names, picked when the module's tests run."""

    hub: int = field(default_factory=free_port)
    proxy: int = field(default_factory=free_port)
    proxy_api: int = field(default_factory=free_port)
    moodle: int = field(default_factory=free_port)
    login: int = field(default_factory=free_port)

    @property
    def routes(self) -> tuple[HostRoute, ...]:
        return (
            HostRoute("hub.campus.test", 443, self.proxy),
            HostRoute("*.hub.campus.test", 443, self.proxy),
            HostRoute("moodle.school.test", 443, self.moodle),
            HostRoute("login.campus.test", 443, self.login),
        )


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory, ports: Ports) -> Iterator[tls.RunCA]:
    saved = socket.getaddrinfo
    resolve_in_process(ports.routes)
    yield tls.ensure(tmp_path_factory.mktemp("tls"))
    socket.getaddrinfo = saved


@pytest.fixture(scope="module")
def proxy_token() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="module")
def proxy(
    ca: tls.RunCA, ports: Ports, proxy_token: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """configurable-http-proxy serving the hub site's certificate, as the chart runs it."""
    # Built now when it is not (a fresh machine runs these tests before the image sessions).
    image = build.build(spec.load(), ["configurable-http-proxy"])["configurable-http-proxy"]
    # The proxy runs as nobody (65534): it gets a copy of the key it can read.
    mounted = tmp_path_factory.mktemp("chp-tls")
    mounted.chmod(0o755)
    site = ca.site("hub")
    for source, name in ((site.cert_file, "tls.crt"), (site.key_file, "tls.key")):
        shutil.copyfile(source, mounted / name)
        (mounted / name).chmod(0o644)
    name = f"jhk8s-test-chp-{ports.proxy}"
    hub = f"http://127.0.0.1:{ports.hub}"
    docker.docker(
        "run", "--detach", "--rm", "--name", name, "--network", "host",
        "--env", f"CONFIGPROXY_AUTH_TOKEN={proxy_token}",
        "--volume", f"{mounted}:/etc/chp/tls:ro",
        image.reference,
        "--ip=127.0.0.1", f"--port={ports.proxy}",
        "--api-ip=127.0.0.1", f"--api-port={ports.proxy_api}",
        f"--default-target={hub}", f"--error-target={hub}/hub/error",
        "--ssl-key=/etc/chp/tls/tls.key", "--ssl-cert=/etc/chp/tls/tls.crt",
    )  # fmt: skip
    try:
        yield name
    finally:
        with contextlib.suppress(RunError):
            docker.docker("rm", "--force", name)


@pytest.fixture(scope="module")
def moodle(mock_moodle_factory: Any, ca: tls.RunCA, ports: Ports) -> RunningMockMoodle:
    return mock_moodle_factory(f"{HUB}/", site=SiteTls(MOODLE, ports.moodle, ca.site("moodle"), ca))


@pytest.fixture(scope="module")
def campus_login(
    tmp_path_factory: pytest.TempPathFactory, ca: tls.RunCA, ports: Ports
) -> Iterator[KeycloakRealm]:
    """Keycloak at https://login.campus.test, its clients accepting the hub's callbacks."""
    cache_folder = tmp_path_factory.mktemp("keycloak-cache")
    realm = keycloak_server.realm_for_hub(HUB)
    with keycloak_over_https(ports.login, ca, cache_folder, LOGIN, realm) as running:
        yield running


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory,
    ca: tls.RunCA,
    ports: Ports,
    proxy: str,
    proxy_token: str,
    moodle: RunningMockMoodle,
    campus_login: KeycloakRealm,
) -> Iterator[HubProcess]:
    keycloak = campus_login.server
    process = HubProcess(
        tmp_path_factory.mktemp("hub"),
        ports.hub,
        settings={
            "JupyterHub": {
                "proxy_class": "configurable-http-proxy",
                "bind_url": f"{HUB}/",
                "default_url": "/hub/home",
            },
            "ConfigurableHTTPProxy": {
                "should_start": False,
                "api_url": f"http://127.0.0.1:{ports.proxy_api}",
                "auth_token": proxy_token,
            },
            "MultiLoginAuthenticator": {"enable_lti11": False},
            "KeycloakLogin": {
                "authorize_url": keycloak.authorize_url,
                "token_url": keycloak.token_url,
                "userdata_url": keycloak.userinfo_url,
                "end_session_url": keycloak.end_session_url,
                "client_id": campus_login.client_id,
                "client_secret": campus_login.client_secret,
                "allowed_groups": {"students", "instructors", "admins", "gpu"},
            },
            "LTI13Login": {"platforms": [moodle.lti13_platform(**CAMPUS_MOODLE_TRUST)]},
        },
        # The hub fetches the mock Moodle's keys and Keycloak's tokens at their https:// names.
        routes=ports.routes,
        ca_file=ca.ca_file,
    )
    process.start()
    # Through the proxy, over TLS, trusting only the run's CA: the hub has added its routes.
    with urllib.request.urlopen(  # noqa: S310 - our own loopback proxy
        f"{HUB}/hub/api/", timeout=30, context=ca.client_context()
    ) as response:
        assert response.status == 200
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser(ca: tls.RunCA, ports: Ports) -> Iterator[Any]:
    with launched_chromium(chromium_launch_args(ca, ports.routes)) as launched:
        yield launched


@pytest.fixture
def page(browser: Any, hub: HubProcess) -> Iterator[Any]:
    with fresh_page(browser, hub) as fresh:
        yield fresh


def launch_cookies(response: Any) -> list[str]:
    """The Set-Cookie headers of the hub's LTI 1.3 login initiation."""
    return [
        header["value"]
        for header in response.headers_array()
        if header["name"].lower() == "set-cookie"
    ]


def test_a_cross_site_launch_signs_in_with_samesite_none_secure_cookies(
    page: Any, hub: HubProcess, moodle: RunningMockMoodle
) -> None:
    with page.expect_response(lambda r: r.url.startswith(f"{HUB}/hub/lti13/oauth_login")) as login:
        page.goto(moodle.launch_url("1.3", "student", "101"))
    page.wait_for_url(f"{HUB}/hub/home")

    cookies = launch_cookies(login.value)
    assert len(cookies) == 2, cookies  # the state and the nonce
    for cookie in cookies:
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert "samesite=none" in attributes, cookie
        assert "secure" in attributes, cookie
        assert "httponly" in attributes, cookie
    assert hub.api("users/student")["auth_state"]["login_source"] == "lti13"


def test_a_launch_inside_a_moodle_iframe_ends_on_a_clear_page(
    page: Any, hub: HubProcess, moodle: RunningMockMoodle
) -> None:
    """Moodle can embed a tool in its own page (launch container "Embed"); JupyterHub refuses to
    be framed by another site, and the framed hub is a third party to the browser.
    The launch must end on a page that says what to do, not bounce between the sites."""
    hub_pages: list[str] = []

    def count_hub_navigations(request: Any) -> None:
        if request.is_navigation_request() and request.url.startswith(HUB):
            hub_pages.append(request.url)

    page.on("request", count_hub_navigations)
    page.goto(moodle.embedded_launch_url("student", "101"))
    frame = page.frame_locator("#tool-frame")
    notice = frame.locator("#multilogin-framed")
    notice.wait_for()
    assert "new window" in notice.inner_text()
    page.wait_for_timeout(2_000)
    # The login initiation only: no trip to Moodle's auth endpoint and back, no second round.
    assert hub_pages == [f"{HUB}/hub/lti13/oauth_login"]
    assert hub.user_names() == set()

    # The page's button starts the launch again in a window of its own, which signs in.
    with page.context.expect_page() as opened:
        frame.locator("#multilogin-framed button").click()
    window = opened.value
    window.wait_for_url(f"{HUB}/hub/home")
    assert hub.api("users/student")["auth_state"]["login_source"] == "lti13"


def test_the_campus_login_signs_in_over_https(
    page: Any, hub: HubProcess, campus_login: KeycloakRealm
) -> None:
    page.goto(f"{HUB}/hub/login?next=%2Fhub%2Fhome")
    page.click("#multilogin-keycloak")
    page.wait_for_selector("#username")
    assert page.url.startswith(f"{LOGIN}/realms/campus/protocol/openid-connect/auth")
    page.fill("#username", "student")
    page.fill("#password", campus_login.users["student"].password)
    page.click("#kc-login")

    page.wait_for_url(f"{HUB}/hub/home")
    assert hub.api("users/student")["auth_state"]["login_source"] == "keycloak"
