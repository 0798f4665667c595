"""A real Keycloak for development and tests, run on this host.

The pinned distribution (tools.keycloak_distribution: Maven Central, unpacked into the cache) is
started in dev mode with the realm of this folder (`campus-realm.json`) imported. A server that
already answers on the port with our realm is reused, so tests and people share one instance.

Over HTTPS (the rehearsal), `start(port, tls=KeycloakTls(...))` serves the certificate of the run's
CA on `port` with plain HTTP off, and pins the front-channel URL to the site's name
(`KC_HOSTNAME`, e.g. https://login.campus.test); the caller routes that name to the port.

Usage: `python -m dev_keycloak {fetch,start,stop,status,measure} [--port N]` from the repo
root with devservices/ on PYTHONPATH, as pytest and the nox sessions set it);
`measure` times a fetch, a first (cold) and a second (warm) start in an empty cache folder.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import keycloak_distribution
from tools.bootstrap import prerequisites
from tools.bootstrap.paths import logs_dir
from tools.bootstrap.processes import process_running
from tools.bootstrap.progress import say, step
from tools.bootstrap.run import RunError

REALM_FILE = Path(__file__).resolve().parent / "campus-realm.json"
REALM = "campus"
HOST = "127.0.0.1"
DEFAULT_PORT = 8180
# Keycloak serves health on a separate management port; ours sits at a fixed offset.
MANAGEMENT_PORT_OFFSET = 1000
START_TIMEOUT_S = 300
# The bootstrap admin of the master realm (the admin console); the campus realm has its own users.
CONSOLE_ADMIN = ("keycloak-admin", "dev-keycloak-admin")
JVM_OPTIONS = (
    # Quarkus resets thread locals through java.lang internals, which Java 24 and later open only
    # on request; without this, stopping Keycloak on Java 25 logs IllegalAccessError traces.
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    # The quick JIT only: a dev server needs a fast start more than peak throughput (measured on
    # the 2-core dev machine under load: warm start 46 s -> 23 s).
    "-XX:TieredStopAtLevel=1",
)


@dataclass(frozen=True)
class DevUser:
    """A user of the campus realm, with the dev password documented in devservices/README.md."""

    username: str
    password: str
    groups: tuple[str, ...]


def realm_users() -> dict[str, DevUser]:
    """The users of the realm file, by name (the one place that reads them)."""
    realm = json.loads(REALM_FILE.read_text())
    return {
        user["username"]: DevUser(
            user["username"],
            next(c["value"] for c in user["credentials"] if c["type"] == "password"),
            tuple(group.lstrip("/") for group in user.get("groups", [])),
        )
        for user in realm["users"]
    }


class KeycloakError(RuntimeError):
    """Keycloak could not be fetched, started or reached."""


@dataclass(frozen=True)
class KeycloakTls:
    """Serve HTTPS with this certificate chain and key, under the public URL `url`."""

    cert_file: Path
    key_file: Path
    url: str
    """Where browsers and the hub reach it (e.g. https://login.campus.test): KC_HOSTNAME."""
    client_context: ssl.SSLContext
    """Trusts the certificate's CA: for this module's own requests."""

    def options(self, port: int) -> list[str]:
        """kc.sh options: HTTPS on `port`, no plain HTTP, the front-channel URL pinned; the
        management port (health) stays plain HTTP on the loopback."""
        return [
            "--http-enabled=false",
            f"--https-port={port}",
            f"--https-certificate-file={self.cert_file}",
            f"--https-certificate-key-file={self.key_file}",
            f"--hostname={self.url}",
            "--http-management-scheme=http",
        ]


@dataclass(frozen=True)
class Keycloak:
    """A Keycloak server answering on a localhost port, with the campus realm imported."""

    port: int
    host: str = HOST
    realm: str = REALM
    tls: KeycloakTls | None = None

    @property
    def url(self) -> str:
        return self.tls.url if self.tls else f"http://{self.host}:{self.port}"

    @property
    def client_context(self) -> ssl.SSLContext | None:
        return self.tls.client_context if self.tls else None

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{self.realm}"

    @property
    def well_known_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def userinfo_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/userinfo"

    @property
    def end_session_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/logout"

    @property
    def health_url(self) -> str:
        return f"http://{self.host}:{self.port + MANAGEMENT_PORT_OFFSET}/health/ready"

    def password_grant(
        self, username: str, password: str, client_id: str, client_secret: str
    ) -> dict[str, object]:
        """Tokens for a user by the resource-owner password grant (dev clients allow it)."""
        body = urllib.parse.urlencode(
            {
                "grant_type": "password",
                "client_id": client_id,
                "client_secret": client_secret,
                "username": username,
                "password": password,
                "scope": "openid",
            }
        ).encode()
        request = urllib.request.Request(self.token_url, data=body, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(  # noqa: S310 - our own Keycloak
                request, timeout=30, context=self.client_context
            ) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise KeycloakError(f"token request for {username!r} failed: {detail}") from None


def fetch_distribution() -> Path:
    """The unpacked distribution; a failure to fetch it is a KeycloakError."""
    try:
        return keycloak_distribution.fetch()
    except (keycloak_distribution.MavenMissing, RunError) as error:
        raise KeycloakError(str(error)) from error


# --- Running ------------------------------------------------------------------------------------


def log_file() -> Path:
    return logs_dir() / "keycloak.log"


def pid_file(port: int) -> Path:
    return keycloak_distribution.home() / f"keycloak-{port}.pid"


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:  # noqa: S310 - our own URL
            return response.status == 200
    except (OSError, ValueError):
        return False


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def realm_for_hub(hub_url: str) -> dict[str, Any]:
    """The campus realm with the callbacks of the hub at `hub_url` (e.g. its in-cluster or
    https:// URL) among every client's redirect URIs."""
    realm = json.loads(REALM_FILE.read_text())
    hub_pattern = f"{hub_url}/*"
    for client in realm["clients"]:
        if hub_pattern not in client.get("redirectUris", []):
            client.setdefault("redirectUris", []).append(hub_pattern)
    return realm


def realm_bytes(realm: dict[str, Any] | None = None) -> bytes:
    """What Keycloak imports: `realm`, or the realm file as it is."""
    return REALM_FILE.read_bytes() if realm is None else json.dumps(realm, indent=2).encode()


def realm_digest(realm: dict[str, Any] | None = None) -> str:
    return hashlib.sha256(realm_bytes(realm)).hexdigest()


def prepare_realm_import(kc_home: Path, realm: dict[str, Any] | None = None) -> None:
    """Put the realm (default: the realm file) where `--import-realm` reads it; drop the dev
    database if it changed.

    Keycloak skips importing a realm that already exists, so an edited realm file would otherwise
    be ignored by the database a previous start left behind.
    """
    data = kc_home / "data"
    import_dir = data / "import"
    import_dir.mkdir(parents=True, exist_ok=True)
    digest_file = data / "realm.sha256"
    digest = realm_digest(realm)
    if not digest_file.exists() or digest_file.read_text() != digest:
        shutil.rmtree(data / "h2", ignore_errors=True)
    (import_dir / REALM_FILE.name).write_bytes(realm_bytes(realm))
    digest_file.write_text(digest)


def running(port: int = DEFAULT_PORT, tls: KeycloakTls | None = None) -> Keycloak | None:
    """The Keycloak answering on `port` with our realm (over HTTPS with `tls`), if there is one."""
    server = Keycloak(port, tls=tls)
    if http_ok(server.health_url) and http_ok(server.well_known_url, server.client_context):
        return server
    return None


def server_command(kc_home: Path, port: int, tls: KeycloakTls | None = None) -> list[str]:
    """kc.sh in dev mode with the realm imported: plain HTTP on `port`, or HTTPS with `tls`."""
    listen = tls.options(port) if tls else [f"--http-port={port}"]
    return [
        str(kc_home / "bin" / "kc.sh"),
        "start-dev",
        "--import-realm",
        f"--http-host={HOST}",
        *listen,
        f"--http-management-port={port + MANAGEMENT_PORT_OFFSET}",
        "--health-enabled=true",
    ]


def start(
    port: int = DEFAULT_PORT,
    timeout: float = START_TIMEOUT_S,
    tls: KeycloakTls | None = None,
    realm: dict[str, Any] | None = None,
) -> Keycloak:
    """Start Keycloak in dev mode on `port` (or reuse one running there) and wait until ready;
    with `tls`, over HTTPS under `tls.url`; importing `realm` (default: the realm file)."""
    reused = running(port, tls)
    if reused is not None:
        say(f"    Keycloak already running at {reused.url}; reusing it")
        return reused
    if started_here(port):
        say(f"    Keycloak is starting on port {port} (another session started it); waiting")
        return wait_for_other_start(port, timeout, tls)
    for busy in (port, port + MANAGEMENT_PORT_OFFSET):
        if port_in_use(busy):
            raise KeycloakError(
                f"port {busy} is in use by something that is not our Keycloak; stop it or pick "
                f"another port (`python -m dev_keycloak.server start --port N`)."
            )
    try:
        prerequisites.ensure(["java"])
    except prerequisites.MissingPrerequisites as missing:
        raise KeycloakError(f"Keycloak needs Java: {missing}") from None
    kc_home = fetch_distribution()
    prepare_realm_import(kc_home, realm)
    command = server_command(kc_home, port, tls)
    env = {
        **os.environ,
        "KC_BOOTSTRAP_ADMIN_USERNAME": CONSOLE_ADMIN[0],
        "KC_BOOTSTRAP_ADMIN_PASSWORD": CONSOLE_ADMIN[1],
        "JAVA_OPTS_APPEND": " ".join([os.environ.get("JAVA_OPTS_APPEND", ""), *JVM_OPTIONS]),
    }
    with step(f"start Keycloak on port {port} (log: {log_file()})"):
        with log_file().open("ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        pid_file(port).write_text(str(process.pid))
        wait_ready(Keycloak(port, tls=tls), process, timeout)
    return Keycloak(port, tls=tls)


def started_here(port: int) -> bool:
    """True while a Keycloak this module started on `port` is alive (ready or not)."""
    pids = pid_file(port)
    return pids.exists() and process_running(int(pids.read_text().strip()))


def wait_for_other_start(port: int, timeout: float, tls: KeycloakTls | None) -> Keycloak:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and started_here(port):
        server = running(port, tls)
        if server is not None:
            return server
        time.sleep(1)
    raise KeycloakError(f"the Keycloak another session started did not get ready:\n{log_tail()}")


def wait_ready(server: Keycloak, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise KeycloakError(f"Keycloak exited with {process.returncode}:\n{log_tail()}")
        if running(server.port, server.tls):
            return
        time.sleep(1)
    stop(server.port)
    raise KeycloakError(f"Keycloak was not ready within {timeout:.0f} s:\n{log_tail()}")


def log_tail(lines: int = 20) -> str:
    text = log_file().read_text(errors="replace") if log_file().exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def stop(port: int = DEFAULT_PORT, timeout: float = 60) -> bool:
    """Stop the Keycloak this module started on `port`; False when there was none."""
    pids = pid_file(port)
    if not pids.exists():
        return False
    pid = int(pids.read_text())
    pids.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_running(pid):
        time.sleep(0.5)
    reap(pid)
    return True


def reap(pid: int) -> None:
    """Collect our own child's exit status so that it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def measure_start_times(port: int) -> dict[str, float]:
    """Seconds to fetch and unpack, to start the first time after unpacking, and to start again.

    Runs in an empty cache folder (Maven's own repository still serves the zip once downloaded),
    so an existing installation is neither used nor touched.
    """
    if running(port) is not None:
        raise KeycloakError(f"a Keycloak already runs on port {port}; measure on a free port")
    timings: dict[str, float] = {}
    saved = os.environ.get("JHK8S_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="keycloak-measure-") as scratch:
        os.environ["JHK8S_CACHE_DIR"] = scratch
        try:
            started = time.monotonic()
            fetch_distribution()
            timings["fetch and unpack"] = time.monotonic() - started
            for name in ("cold start", "warm start"):
                started = time.monotonic()
                start(port)
                timings[name] = time.monotonic() - started
                stop(port)
        finally:
            stop(port)
            if saved is None:
                del os.environ["JHK8S_CACHE_DIR"]
            else:
                os.environ["JHK8S_CACHE_DIR"] = saved
    return timings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev_keycloak", description=__doc__)
    parser.add_argument("action", choices=["fetch", "start", "stop", "status", "measure"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port (localhost)")
    args = parser.parse_args(argv)
    try:
        if args.action == "fetch":
            print(fetch_distribution())
        elif args.action == "start":
            server = start(args.port)
            print(f"Keycloak: {server.url}  realm: {server.issuer}  log: {log_file()}")
            print(f"admin console: {server.url}/admin  ({CONSOLE_ADMIN[0]} / {CONSOLE_ADMIN[1]})")
        elif args.action == "stop":
            print("stopped" if stop(args.port) else f"no Keycloak started here on port {args.port}")
        elif args.action == "measure":
            for name, seconds in measure_start_times(args.port).items():
                print(f"{name}: {seconds:.1f} s")
        else:
            server = running(args.port)
            print(f"running at {server.url}" if server else f"not running on port {args.port}")
            return 0 if server else 1
    except KeycloakError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
