"""The dev Keycloak over HTTPS on its site's name (integration: a real Keycloak).

It runs from a distribution unpacked in a cache folder of its own, so that its database and pid
files never meet those of the Keycloak other tests share.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev_keycloak import server as keycloak_server
from devenv import tls
from devenv.host_names import HostRoute, resolve_in_process
from mock_moodle.server import free_port
from service_fixtures import keycloak_over_https, realm_from_file

pytestmark = pytest.mark.integration

LOGIN = "https://login.campus.test"


def test_https_options_turn_plain_http_off_and_pin_the_public_url(tmp_path: Path) -> None:
    ca = tls.ensure(tmp_path / "tls")
    site = ca.site("login")
    options = keycloak_server.KeycloakTls(
        site.cert_file, site.key_file, LOGIN, ca.client_context()
    ).options(8443)
    assert "--http-enabled=false" in options
    assert "--https-port=8443" in options
    assert f"--https-certificate-file={site.cert_file}" in options
    assert f"--hostname={LOGIN}" in options


@pytest.fixture(scope="module")
def https_keycloak(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[keycloak_server.Keycloak]:
    ca = tls.ensure(tmp_path_factory.mktemp("tls"))
    port = free_port()
    saved = socket.getaddrinfo
    resolve_in_process([HostRoute("login.campus.test", 443, port)])
    try:
        with keycloak_over_https(port, ca, tmp_path_factory.mktemp("keycloak-cache")) as realm:
            yield realm.server
    finally:
        socket.getaddrinfo = saved


def test_the_issuer_is_the_sites_https_url(https_keycloak: keycloak_server.Keycloak) -> None:
    with urllib.request.urlopen(  # noqa: S310 - our own Keycloak
        https_keycloak.well_known_url, timeout=30, context=https_keycloak.client_context
    ) as response:
        discovery = json.load(response)
    assert discovery["issuer"] == f"{LOGIN}/realms/campus"
    assert discovery["authorization_endpoint"].startswith(f"{LOGIN}/realms/campus/")


def test_a_realm_user_gets_tokens_over_https(https_keycloak: keycloak_server.Keycloak) -> None:
    realm = realm_from_file(https_keycloak)
    assert realm.tokens("student")["access_token"]


def test_a_client_without_the_ca_is_refused(https_keycloak: keycloak_server.Keycloak) -> None:
    with pytest.raises(urllib.error.URLError) as raised:
        urllib.request.urlopen(https_keycloak.well_known_url, timeout=30)  # noqa: S310
    assert isinstance(raised.value.reason, ssl.SSLCertVerificationError)


def test_plain_http_is_not_served(https_keycloak: keycloak_server.Keycloak) -> None:
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://127.0.0.1:{https_keycloak.port}/realms/campus", timeout=30)
