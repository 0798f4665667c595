"""The mock Moodle over HTTPS on another site's name, with a certificate of the run's CA."""

from __future__ import annotations

import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv import tls
from devenv.host_names import HostRoute, resolve_in_process
from mock_moodle.server import free_port, module_command, module_environment
from service_fixtures import RunningMockMoodle, SiteTls

MOODLE = "https://moodle.school.test"
HUB = "https://hub.campus.test/"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tls.RunCA:
    return tls.ensure(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def moodle(mock_moodle_factory: Any, ca: tls.RunCA) -> Iterator[RunningMockMoodle]:
    port = free_port()
    saved = socket.getaddrinfo
    resolve_in_process([HostRoute("moodle.school.test", 443, port)])
    try:
        yield mock_moodle_factory(HUB, site=SiteTls(MOODLE, port, ca.site("moodle"), ca))
    finally:
        socket.getaddrinfo = saved


def test_every_platform_url_is_https_on_the_sites_name(moodle: RunningMockMoodle) -> None:
    lti13 = moodle.platform["lti13"]
    assert moodle.url == MOODLE
    assert lti13["issuer"] == MOODLE
    assert lti13["authorize_url"] == f"{MOODLE}/mod/lti/auth.php"
    assert lti13["jwks_url"] == f"{MOODLE}/mod/lti/certs.php"
    assert lti13["login_url"] == "https://hub.campus.test/hub/lti13/oauth_login"


def test_a_client_trusting_the_ca_gets_the_keys(moodle: RunningMockMoodle, ca: tls.RunCA) -> None:
    url = moodle.platform["lti13"]["jwks_url"]
    with urllib.request.urlopen(url, timeout=10, context=ca.client_context()) as response:  # noqa: S310
        assert response.status == 200
        assert b'"keys"' in response.read()


def test_a_client_without_the_ca_is_refused(moodle: RunningMockMoodle) -> None:
    with pytest.raises(urllib.error.URLError) as raised:
        urllib.request.urlopen(f"{MOODLE}/healthz", timeout=10)  # noqa: S310
    assert isinstance(raised.value.reason, ssl.SSLCertVerificationError)


def test_the_launch_form_posts_to_the_hub_over_https(moodle: RunningMockMoodle) -> None:
    form = moodle.launch_form("1.3", "student", moodle.courses[0])
    assert form["url"] == "https://hub.campus.test/hub/lti13/oauth_login"
    assert form["fields"]["iss"] == MOODLE


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*module_command(), "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=module_environment(),
        check=False,
    )


def test_a_certificate_without_its_key_is_refused() -> None:
    result = run_module("--tls-cert", "/nonexistent.crt")
    assert result.returncode == 2
    assert "--tls-cert and --tls-key go together" in result.stderr


def test_an_unreadable_certificate_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    result = run_module("--tls-cert", str(bad), "--tls-key", str(bad))
    assert result.returncode == 2
    assert "cannot use the TLS certificate or key" in result.stderr
    assert "Traceback" not in result.stderr
