"""The run's CA: real TLS handshakes on the loopback decide whether its certificates work."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devenv import tls


@contextmanager
def tls_server(site: tls.ServerCertificate) -> Iterator[int]:
    """A loopback TLS server presenting `site`'s certificate to one client; yields its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(site.cert_file, site.key_file)
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        connection, _ = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True) as secured:
                secured.sendall(b"hello")
        except (ssl.SSLError, OSError):
            connection.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(timeout=10)
        listener.close()


def handshake(port: int, name: str, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name) as secured,
    ):
        return secured.recv(5)


@pytest.fixture
def ca(tmp_path: Path) -> tls.RunCA:
    return tls.ensure(tmp_path / "tls")


@pytest.mark.parametrize(
    ("site", "name"),
    [
        ("hub", "hub.campus.test"),
        ("hub", "alice.hub.campus.test"),
        ("login", "login.campus.test"),
        ("moodle", "moodle.school.test"),
    ],
)
def test_a_client_trusting_the_ca_accepts_each_sites_names(
    ca: tls.RunCA, site: str, name: str
) -> None:
    with tls_server(ca.site(site)) as port:
        assert handshake(port, name, ca.client_context()) == b"hello"


@pytest.mark.parametrize(
    ("site", "name"),
    [("hub", "login.campus.test"), ("hub", "a.b.hub.campus.test"), ("moodle", "hub.campus.test")],
)
def test_a_name_the_certificate_does_not_carry_is_refused(
    ca: tls.RunCA, site: str, name: str
) -> None:
    with tls_server(ca.site(site)) as port, pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, name, ca.client_context())


def test_a_client_without_the_ca_refuses_the_certificate(ca: tls.RunCA) -> None:
    with tls_server(ca.site("hub")) as port, pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, "hub.campus.test", ssl.create_default_context())


def test_another_runs_ca_is_not_trusted(ca: tls.RunCA, tmp_path: Path) -> None:
    other = tls.ensure(tmp_path / "other")
    with tls_server(other.site("hub")) as port, pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, "hub.campus.test", ca.client_context())


def test_keys_are_readable_by_their_owner_only(ca: tls.RunCA) -> None:
    for key in [ca.ca_key_file, *(ca.site(name).key_file for name in tls.SITES)]:
        assert key.stat().st_mode & 0o777 == 0o600, key


def test_ensure_keeps_certificates_that_are_still_good(ca: tls.RunCA) -> None:
    before = {path.name: path.read_bytes() for path in ca.folder.iterdir()}
    tls.ensure(ca.folder)
    assert {path.name: path.read_bytes() for path in ca.folder.iterdir()} == before


def test_ensure_renews_certificates_close_to_expiry(ca: tls.RunCA) -> None:
    old_ca = ca.ca_file.read_bytes()
    later = datetime.datetime.now(datetime.UTC) + tls.VALIDITY - tls.RENEW_BEFORE / 2
    tls.ensure(ca.folder, now=later)
    assert ca.ca_file.read_bytes() != old_ca
    renewed = tls.load_certificate(ca.site("hub").cert_file)
    assert renewed.not_valid_after_utc > later + tls.RENEW_BEFORE


def test_validity_is_short(ca: tls.RunCA) -> None:
    for path in [ca.ca_file, *(ca.site(name).cert_file for name in tls.SITES)]:
        certificate = tls.load_certificate(path)
        lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
        assert lifetime <= datetime.timedelta(days=3), path


@pytest.mark.parametrize("damage", ["missing", "foreign", "garbage"])
def test_ensure_remakes_a_set_with_a_bad_site_certificate(
    ca: tls.RunCA, tmp_path: Path, damage: str
) -> None:
    login = ca.site("login")
    if damage == "missing":
        login.cert_file.unlink()
    elif damage == "foreign":
        other = tls.ensure(tmp_path / "other").site("login")
        login.cert_file.write_bytes(other.cert_file.read_bytes())
        login.key_file.write_bytes(other.key_file.read_bytes())
    else:
        login.cert_file.write_text("not a certificate")
    tls.ensure(ca.folder)
    with tls_server(ca.site("login")) as port:
        assert handshake(port, "login.campus.test", ca.client_context()) == b"hello"
