"""A certificate authority made for the run, and the server certificates it signs.

The rehearsal serves the hub, Keycloak and the mock Moodle over HTTPS on host names of three
sites (`SITES`), the way a campus does; browsers and Python clients trust this CA, never skip
verification. Everything lives in one folder of the cache (`tls/` by default): `ca.crt`,
`ca.key`, and `<site>.crt` / `<site>.key` per site. `ensure()` is idempotent: it keeps files that
are still valid for a while, and makes the whole set again when any is missing, expiring,
not signed by the CA or not naming what its site needs. Validity is short on purpose: a key left
behind in a cache is worth little after two days.
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tools.bootstrap.paths import cache_dir

# Each site of the rehearsal, by the file stem of its certificate, and the names it answers for.
# Users' servers live on subdomains of the hub (JupyterHub's subdomain_host), hence the wildcard.
# Keycloak and the mock Moodle also answer the hub inside the cluster on their Service's name.
SITES: dict[str, tuple[str, ...]] = {
    "hub": ("hub.campus.test", "*.hub.campus.test"),
    "login": ("login.campus.test", "keycloak"),
    "moodle": ("moodle.school.test", "mock-moodle"),
}
VALIDITY = datetime.timedelta(days=2)
# Files that expire sooner than this are made again, so no run sees a certificate expire.
RENEW_BEFORE = datetime.timedelta(hours=12)
CA_NAME = "jupyterhub-k8s run CA"


def default_folder() -> Path:
    return cache_dir() / "tls"


@dataclass(frozen=True)
class ServerCertificate:
    """A site's certificate (with the CA certificate appended: the chain a server sends) and key."""

    cert_file: Path
    key_file: Path
    names: tuple[str, ...]


@dataclass(frozen=True)
class RunCA:
    """The CA of the run and one certificate per site of `SITES`."""

    folder: Path

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key_file(self) -> Path:
        return self.folder / "ca.key"

    def site(self, name: str) -> ServerCertificate:
        """The certificate of a site of `SITES` ("hub", "login", "moodle")."""
        return ServerCertificate(
            self.folder / f"{name}.crt", self.folder / f"{name}.key", SITES[name]
        )

    def client_context(self) -> ssl.SSLContext:
        """An SSL context for Python clients (urllib, tornado) that trusts this CA, and checks
        host names and certificates as always."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def ensure(folder: Path | None = None, now: datetime.datetime | None = None) -> RunCA:
    """The run's CA and site certificates in `folder`, made now unless all are still good."""
    ca = RunCA(folder or default_folder())
    now = now or datetime.datetime.now(datetime.UTC)
    if not all_still_good(ca, now):
        create(ca, now)
    return ca


def all_still_good(ca: RunCA, now: datetime.datetime) -> bool:
    """Whether every file is there, lasts beyond RENEW_BEFORE and the CA signed each site's."""
    try:
        authority = load_certificate(ca.ca_file)
        serialization.load_pem_private_key(ca.ca_key_file.read_bytes(), password=None)
        sites = {name: ca.site(name) for name in SITES}
        certificates = {name: load_certificate(site.cert_file) for name, site in sites.items()}
        for site in sites.values():
            serialization.load_pem_private_key(site.key_file.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    if not lasts(authority, now):
        return False
    for name, certificate in certificates.items():
        try:
            certificate.verify_directly_issued_by(authority)
        except (ValueError, TypeError, InvalidSignature):
            return False
        if not lasts(certificate, now) or dns_names(certificate) != set(SITES[name]):
            return False
    return True


def lasts(certificate: x509.Certificate, now: datetime.datetime) -> bool:
    return (
        certificate.not_valid_before_utc <= now
        and certificate.not_valid_after_utc - RENEW_BEFORE > now
    )


def dns_names(certificate: x509.Certificate) -> set[str]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return set()
    return set(names.value.get_values_for_type(x509.DNSName))


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file (a site's file holds its own, then the CA's)."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def create(ca: RunCA, now: datetime.datetime) -> None:
    """A new CA and a new certificate for every site, replacing whatever the folder held."""
    ca.folder.mkdir(parents=True, exist_ok=True)
    ca.folder.chmod(0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    authority = (
        certificate_builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(ca.ca_key_file, private_pem(ca_key))
    ca.ca_file.write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    for name in SITES:
        site = ca.site(name)
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            certificate_builder(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, site.names[0])]),
                ca_name,
                key.public_key(),
                now,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(host) for host in site.names]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        write_private(site.key_file, private_pem(key))
        site.cert_file.write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + authority.public_bytes(serialization.Encoding.PEM)
        )


def certificate_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    # Backdated a little, so that a clock a minute behind (a container, a kind node) accepts it.
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> None:
    """A key file readable by its owner only, from its first byte on."""
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(data)
