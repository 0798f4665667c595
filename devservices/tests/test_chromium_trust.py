"""Chromium trusts the run's CA through its NSS database, and still refuses certificate errors.

A loopback HTTPS server presents the hub site's certificate; Chromium reaches it by name through
`--host-resolver-rules`, as the rehearsal reaches the hub, Keycloak and the mock Moodle.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv import tls
from devenv.browser_trust import nss_database, trusting_home
from devenv.host_names import HostRoute
from service_fixtures import chromium_launch_args
from tools.bootstrap.run import run

pytestmark = pytest.mark.integration


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<title>hello</title>over https"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tls.RunCA:
    return tls.ensure(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def hub_site_port(ca: tls.RunCA) -> Iterator[int]:
    """A loopback HTTPS server with the hub site's certificate."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    site = ca.site("hub")
    context.load_cert_chain(site.cert_file, site.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def routes(port: int) -> list[HostRoute]:
    # moodle.school.test is routed to the hub's server on purpose: its certificate lacks the name.
    return [
        HostRoute("hub.campus.test", 443, port),
        HostRoute("*.hub.campus.test", 443, port),
        HostRoute("moodle.school.test", 443, port),
    ]


def visit(launch: dict[str, Any], url: str) -> str:
    """The page's text, or the network error Chromium reports."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch)
        try:
            page = browser.new_page()
            page.goto(url)
            return page.inner_text("body")
        except Error as error:
            return error.message
        finally:
            browser.close()


def test_the_nss_database_holds_the_ca_as_a_tls_server_authority(ca: tls.RunCA) -> None:
    home = trusting_home(ca)
    listed = run(["certutil", "-L", "-d", f"sql:{nss_database(home)}"])
    assert tls.CA_NAME in listed
    assert "C,," in listed


@pytest.mark.parametrize("url", ["https://hub.campus.test/", "https://alice.hub.campus.test/"])
def test_chromium_with_the_ca_opens_the_hub_site(
    ca: tls.RunCA, hub_site_port: int, url: str
) -> None:
    assert visit(chromium_launch_args(ca, routes(hub_site_port)), url) == "over https"


def test_chromium_without_the_ca_refuses_the_certificate(hub_site_port: int) -> None:
    shown = visit(chromium_launch_args(routes=routes(hub_site_port)), "https://hub.campus.test/")
    assert "ERR_CERT_AUTHORITY_INVALID" in shown


def test_chromium_with_the_ca_still_refuses_a_name_the_certificate_lacks(
    ca: tls.RunCA, hub_site_port: int
) -> None:
    launch = chromium_launch_args(ca, routes(hub_site_port))
    assert "ERR_CERT_COMMON_NAME_INVALID" in visit(launch, "https://moodle.school.test/")


def test_a_previous_runs_ca_is_not_trusted_after_a_new_one(
    ca: tls.RunCA, hub_site_port: int, tmp_path: Path
) -> None:
    other = tls.ensure(tmp_path / "other")
    home = trusting_home(ca, tmp_path / "home")
    trusting_home(other, home)
    listed = run(["certutil", "-L", "-d", f"sql:{nss_database(home)}"])
    assert listed.count(tls.CA_NAME) == 1
    launch = {**chromium_launch_args(routes=routes(hub_site_port)), "env": {"HOME": str(home)}}
    assert "ERR_CERT_AUTHORITY_INVALID" in visit(launch, "https://hub.campus.test/")
