"""Test and benchmark support: the providers' real wire formats and a hub without a proxy.

- LTI 1.1: Moodle's launch parameters, signed with oauthlib exactly as Moodle signs them.
- LTI 1.3: a platform with a generated RSA key, its JWKS served over HTTP, Moodle's claims.
- NullProxy: lets a hub run with requests sent straight to its own port (auth needs no proxy).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jupyterhub.proxy import Proxy
from oauthlib.oauth1 import SIGNATURE_TYPE_BODY, Client
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

import multilogin
from devenv.host_names import HostRoute
from tools.bootstrap.paths import REPO_ROOT

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"


class NullProxy(Proxy):
    """A proxy that routes nothing: tests talk to the hub's own port."""

    should_start = False

    async def add_route(self, routespec: str, target: str, data: dict) -> None:
        return None

    async def delete_route(self, routespec: str) -> None:
        return None

    async def get_all_routes(self) -> dict:
        return {}


# ----------------------------------------------------------------------------------- LTI 1.1


def moodle_user_id(username: str) -> str:
    """Moodle's numeric user id for a username: distinct per person, as on a real site."""
    return str(1000 + zlib.crc32(username.encode()) % 9_000_000)


def moodle_lti11_params(
    username: str = "student",
    roles: str = "Learner",
    context_id: str = "42",
    context_title: str = "Data Science 101",
    **extra: str,
) -> dict[str, str]:
    """The parameters Moodle 4.x sends to an LTI 1.1 external tool (names shared)."""
    params = {
        "lti_message_type": "basic-lti-launch-request",
        "lti_version": "LTI-1p0",
        "resource_link_id": "7",
        "resource_link_title": "JupyterHub",
        "resource_link_description": "",
        "user_id": moodle_user_id(username),
        "roles": roles,
        "context_id": context_id,
        "context_label": "DS101",
        "context_title": context_title,
        "context_type": "CourseSection",
        "lis_person_name_given": "Sam",
        "lis_person_name_family": "Student",
        "lis_person_name_full": "Sam Student",
        "lis_person_contact_email_primary": f"{username}@campus.example.edu",
        "ext_user_username": username,
        "ext_lms": "moodle-2",
        "tool_consumer_info_product_family_code": "moodle",
        "tool_consumer_info_version": "2024042200",
        "tool_consumer_instance_guid": "moodle.campus.example.edu",
        "tool_consumer_instance_name": "Campus Moodle",
        "launch_presentation_locale": "en",
        "launch_presentation_document_target": "window",
        "launch_presentation_return_url": "https://moodle.campus.example.edu/mod/lti/return.php",
    }
    params.update(extra)
    return params


def sign_lti11(
    url: str,
    params: Mapping[str, str],
    consumer_key: str,
    secret: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The urlencoded POST body of a launch, OAuth 1.0a HMAC-SHA1 signed in the body."""
    client = Client(
        consumer_key,
        client_secret=secret,
        signature_type=SIGNATURE_TYPE_BODY,
        timestamp=None if timestamp is None else str(timestamp),
        nonce=nonce,
    )
    _, _, body = client.sign(
        url,
        http_method="POST",
        body=dict(params),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return body


# ----------------------------------------------------------------------------------- LTI 1.3


class _JWKSHandler(RequestHandler):
    def initialize(self, platform: LTI13Platform) -> None:
        self.platform = platform

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.platform.jwks()))


@dataclass
class LTI13Platform:
    """A Moodle-like LTI 1.3 platform: its keys, its JWKS endpoint, its id_tokens."""

    issuer: str = "https://moodle.campus.example.edu"
    client_id: str = "hub-client"
    deployment_id: str = "1"
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    private_key: Any = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    jwks_url: str = ""
    _server: HTTPServer | None = None

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        public.update({"kid": self.key_id, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def serve_jwks(self) -> str:
        """Serve /mod/lti/certs.php on a free local port in the running event loop."""
        sockets = bind_sockets(0, "127.0.0.1")
        port = sockets[0].getsockname()[1]
        routes = [("/mod/lti/certs.php", _JWKSHandler, {"platform": self})]
        self._server = HTTPServer(Application(routes))
        self._server.add_sockets(sockets)
        self.jwks_url = f"http://127.0.0.1:{port}/mod/lti/certs.php"
        return self.jwks_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def trusted_entry(self) -> dict[str, Any]:
        """This platform as LTI13Login.platforms lists it."""
        return {
            "issuer": self.issuer,
            "client_ids": [self.client_id],
            "deployment_ids": [self.deployment_id],
            "authorize_url": f"{self.issuer}/mod/lti/auth.php",
            "jwks_url": self.jwks_url,
        }

    def login_initiation(self, target_link_uri: str, **extra: str) -> dict[str, str]:
        """Moodle's third-party initiated login parameters."""
        params = {
            "iss": self.issuer,
            "target_link_uri": target_link_uri,
            "login_hint": "1001",
            "lti_message_hint": "7",
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        params.update(extra)
        return params

    def claims(
        self,
        nonce: str,
        username: str = "student",
        roles: list[str] | None = None,
        context_id: str = "42",
        custom: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The id_token claims Moodle 4.x sends in a resource link launch."""
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": moodle_user_id(username),
            "exp": now + 60,
            "iat": now,
            "nonce": nonce,
            "name": "Sam Student",
            "given_name": "Sam",
            "family_name": "Student",
            "email": f"{username}@campus.example.edu",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": "",
            CLAIM + "lis": {"person_sourcedid": "", "course_section_sourcedid": ""},
            CLAIM + "roles": roles if roles is not None else [ROLE_LEARNER],
            CLAIM + "context": {
                "id": context_id,
                "label": "DS101",
                "title": "Data Science 101",
                "type": ["CourseSection"],
            },
            CLAIM + "resource_link": {"title": "JupyterHub", "id": "7"},
            CLAIM + "launch_presentation": {"locale": "en", "document_target": "window"},
            CLAIM + "ext": {"user_username": username, "lms": "moodle-2"},
            CLAIM + "tool_platform": {
                "product_family_code": "moodle",
                "version": "2024042200",
                "guid": "moodle.campus.example.edu",
                "name": "Campus Moodle",
            },
            CLAIM + "version": "1.3.0",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "custom": custom or {},
        }

    def id_token(self, claims: Mapping[str, Any], key: Any = None, kid: str | None = None) -> str:
        return jwt.encode(
            dict(claims),
            key or self.private_key,
            algorithm="RS256",
            headers={"kid": kid or self.key_id},
        )


# ---------------------------------------------------------------------------------- Keycloak


@dataclass
class KeycloakAccount:
    username: str
    groups: list[str]


class _KeycloakTokenHandler(RequestHandler):
    def initialize(self, wire: KeycloakWire) -> None:
        self.wire = wire

    def post(self) -> None:
        grant = self.get_body_argument("grant_type")
        if grant == "authorization_code":
            account = self.wire.codes.pop(self.get_body_argument("code"), None)
        else:
            account = self.wire.refresh_tokens.get(self.get_body_argument("refresh_token"))
        if account is None:
            self.set_status(400)
            self.write({"error": "invalid_grant", "error_description": "Code not valid"})
            return
        self.write(self.wire.issue(account))


class _KeycloakUserinfoHandler(RequestHandler):
    def initialize(self, wire: KeycloakWire) -> None:
        self.wire = wire

    def get(self) -> None:
        token = self.request.headers.get("Authorization", "").removeprefix("Bearer ")
        account = self.wire.access_tokens.get(token)
        if account is None:
            self.set_status(401)
            self.write({"error": "invalid_token", "error_description": "Token verification failed"})
            return
        self.write(
            {
                "sub": self.wire.subjects.get(
                    account.username, str(uuid.uuid5(uuid.NAMESPACE_DNS, account.username))
                ),
                "preferred_username": account.username,
                "email": f"{account.username}@campus.example.edu",
                "email_verified": True,
                "groups": account.groups,
            }
        )


@dataclass
class KeycloakWire:
    """Keycloak's token and userinfo responses for one realm, for unit tests; integration tests
    use the real Keycloak."""

    realm: str = "campus"
    url: str = ""
    codes: dict[str, KeycloakAccount] = field(default_factory=dict)
    access_tokens: dict[str, KeycloakAccount] = field(default_factory=dict)
    refresh_tokens: dict[str, KeycloakAccount] = field(default_factory=dict)
    # Keycloak's subject per username, where a test gives one (else derived from the name).
    subjects: dict[str, str] = field(default_factory=dict)
    _server: HTTPServer | None = None

    def serve(self) -> str:
        sockets = bind_sockets(0, "127.0.0.1")
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        base = f"/realms/{self.realm}/protocol/openid-connect"
        self._server = HTTPServer(
            Application(
                [
                    (f"{base}/token", _KeycloakTokenHandler, {"wire": self}),
                    (f"{base}/userinfo", _KeycloakUserinfoHandler, {"wire": self}),
                ]
            )
        )
        self._server.add_sockets(sockets)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def code_for(self, username: str, groups: list[str]) -> str:
        """What Keycloak hands the browser after the person signed in."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = KeycloakAccount(username, groups)
        return code

    def issue(self, account: KeycloakAccount) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.access_tokens[access] = account
        self.refresh_tokens[refresh] = account
        return {
            "access_token": access,
            # Opaque to the hub, which only hands it back to Keycloak as a logout hint.
            "id_token": f"id-token-of-{account.username}",
            "expires_in": 300,
            "refresh_expires_in": 1800,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": uuid.uuid4().hex,
            "scope": "openid profile email",
        }

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()


# ------------------------------------------------------------------------------- hub process


def hub_pythonpath(inherited: str | None) -> str:
    """PYTHONPATH for a hub process: the multilogin this process imported first (else an
    installed checkout elsewhere would stand in for the code under test), this folder, the
    repository, and `inherited` with relative entries made absolute (the hub runs elsewhere)."""
    entries = [
        Path(multilogin.__file__).resolve().parents[1],
        Path(__file__).resolve().parent,
        REPO_ROOT,
        *(Path(entry).resolve() for entry in (inherited or "").split(os.pathsep) if entry),
    ]
    return os.pathsep.join(str(entry) for entry in entries)


@dataclass
class HubProcess:
    """A real `jupyterhub` process with MultiLoginAuthenticator and NullProxy.

    `settings` is traitlets configuration as data: {"LTI11Login": {"consumers": {...}}, ...}.
    `routes` are host names of other sites the hub resolves as the browser does (e.g. the mock
    Moodle's, for its keys), and `ca_file` a CA it trusts besides the system's.
    """

    workdir: Path
    port: int
    settings: dict[str, dict[str, Any]]
    base_url: str = "/"
    api_token: str = field(default_factory=lambda: secrets.token_hex(16))
    routes: tuple[HostRoute, ...] = ()
    ca_file: Path | None = None
    _process: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.origin}{self.base_url}hub/{path}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "jupyterhub.log"

    def _config(self) -> str:
        settings: dict[str, dict[str, Any]] = {
            "JupyterHub": {
                "authenticator_class": "multilogin",
                "proxy_class": "multilogin_harness.NullProxy",
                "spawner_class": "simple",
                "hub_bind_url": self.origin,
                "base_url": self.base_url,
                "db_url": f"sqlite:///{self.workdir / 'jupyterhub.sqlite'}",
                "cookie_secret_file": str(self.workdir / "cookie_secret"),
                "pid_file": str(self.workdir / "jupyterhub.pid"),
                "services": [{"name": "tests", "api_token": self.api_token}],
                "load_roles": [
                    {
                        "name": "tests",
                        "scopes": ["admin:users", "admin:auth_state", "admin:groups"],
                        "services": ["tests"],
                    }
                ],
            }
        }
        for section, values in self.settings.items():
            settings.setdefault(section, {}).update(values)
        resolving = (
            "from devenv.host_names import HostRoute, resolve_in_process\n"
            f"resolve_in_process({list(self.routes)!r})\n"
            if self.routes
            else ""
        )
        return resolving + "".join(
            f"c.{section}.{key} = {value!r}\n"
            for section, values in settings.items()
            for key, value in values.items()
        )

    def start(self, timeout_s: float = 90.0) -> HubProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_file = self.workdir / "jupyterhub_config.py"
        config_file.write_text(self._config())
        env = {
            **os.environ,
            "PYTHONPATH": hub_pythonpath(os.environ.get("PYTHONPATH")),
            "JUPYTERHUB_CRYPT_KEY": os.environ.get("JUPYTERHUB_CRYPT_KEY", secrets.token_hex(32)),
            # Python's default SSL context (urllib, PyJWKClient) reads its CA file from here.
            **({"SSL_CERT_FILE": str(self.ca_file)} if self.ca_file else {}),
        }
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config_file)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited; see {self.log_file}")
            try:
                urllib.request.urlopen(self.url("api/"), timeout=2)  # noqa: S310 - localhost
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyterhub not ready after {timeout_s} s; see {self.log_file}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the hub process has used so far; Linux only (/proc)."""
        # The fields after the command name, which is in parentheses: utime and stime are the
        # 14th and 15th of the line.
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """Call the hub's REST API as the admin test service, `body` sent as JSON; None for 404
        or no content."""
        request = urllib.request.Request(  # noqa: S310 - localhost
            self.url(f"api/{path}"),
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.api_token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise
        return json.loads(body) if body else None

    def user_names(self) -> set[str]:
        return {user["name"] for user in self.api("users")}

    def delete_all_users(self) -> None:
        for name in self.user_names():
            self.api(f"users/{name}", method="DELETE")


def free_port() -> int:
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    for sock in sockets:
        sock.close()
    return port


def random_nonce() -> str:
    return secrets.token_hex(16)


def form(params: Mapping[str, str]) -> str:
    return urlencode(dict(params))
