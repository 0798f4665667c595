"""An in-process JupyterHub under a URL prefix with MultiLoginAuthenticator, for unit tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
from jupyterhub import orm
from jupyterhub.app import JupyterHub
from jupyterhub.crypto import CryptKeeper
from multilogin_harness import KeycloakWire, LTI13Platform, NullProxy
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from traitlets.config import Config

from multilogin import MultiLoginAuthenticator
from multilogin.launches import ValidatedLaunch

LTI11_KEY = "moodle-key"
LTI11_SECRET = "moodle-secret"
PREFIX = "/prefix/"
# The test Moodle shares the campus directory: both its sources may claim any username (admin
# accounts stay out of reach all the same), and share one platform name for their courses.
PLATFORM_NAME = "moodle"
CAMPUS_MOODLE_TRUST = {"name": PLATFORM_NAME, "authoritative_usernames": ".*"}


@dataclass
class HubUnderTest:
    app: JupyterHub
    origin: str
    platform: LTI13Platform
    keycloak: KeycloakWire

    def url(self, path: str) -> str:
        """Absolute URL of a hub route, e.g. url("lti/launch")."""
        return f"{self.origin}{PREFIX}hub/{path}"

    async def request(
        self,
        path_or_url: str,
        method: str = "GET",
        body: str | None = None,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        all_headers = dict(headers or {})
        if body is not None:
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        return await AsyncHTTPClient().fetch(
            url,
            method=method,
            body=body,
            headers=all_headers,
            follow_redirects=False,
            raise_error=False,
        )

    def user_names(self) -> set[str]:
        self.app.db.expire_all()
        return {user.name for user in self.app.db.query(orm.User)}

    def user(self, name: str) -> Any:
        self.app.db.expire_all()
        return self.app.users[name]

    @property
    def authenticator(self) -> MultiLoginAuthenticator:
        return self.app.authenticator


def response_cookies(response: HTTPResponse) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("Set-Cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        cookies.update({name: morsel.value for name, morsel in parsed.items()})
    return cookies


def hub_config(platform: LTI13Platform, keycloak: KeycloakWire, port: int, db_url: str) -> Config:
    c = Config()
    c.JupyterHub.authenticator_class = MultiLoginAuthenticator
    c.JupyterHub.proxy_class = NullProxy
    c.JupyterHub.base_url = PREFIX
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port}"
    c.JupyterHub.db_url = db_url
    c.JupyterHub.cookie_secret = secrets.token_bytes(32)
    c.JupyterHub.spawner_class = "simple"
    c.KeycloakLogin.keycloak_url = keycloak.url
    c.KeycloakLogin.realm = keycloak.realm
    c.KeycloakLogin.client_id = "jupyterhub"
    c.KeycloakLogin.client_secret = "jupyterhub-dev-secret"
    c.KeycloakLogin.allowed_groups = {"students", "gpu", "instructors", "admins"}
    c.LTI11Login.consumers = {LTI11_KEY: LTI11_SECRET}
    c.LTI11Login.consumer_trust = {LTI11_KEY: CAMPUS_MOODLE_TRUST}
    c.LTI13Login.platforms = [{**platform.trusted_entry(), **CAMPUS_MOODLE_TRUST}]
    return c


class InProcessHub(JupyterHub):
    """A hub sharing pytest's event loop, which it must leave running when it stops."""

    def _stop_event_loop(self) -> None:
        return None


async def start_hub(config: Config) -> JupyterHub:
    app = InProcessHub(config=config)
    await app.initialize([])
    await app.start()
    return app


async def stop_hub(app: JupyterHub) -> None:
    app.log.handlers = []
    await app.cleanup()
    # cleanup() has run; the atexit hook must not run it again on a closed loop.
    app._atexit_ran = True
    # JupyterHub.stop() would also cancel every task in the loop, pytest's included.
    app.http_server.stop()
    for callback in app._periodic_callbacks.values():
        callback.stop()
    InProcessHub.clear_instance()
    CryptKeeper.clear_instance()


def record_launches(hub: HubUnderTest, monkeypatch: pytest.MonkeyPatch) -> list[ValidatedLaunch]:
    """Every ValidatedLaunch the launch handlers hand to authenticate(), in order."""
    seen: list[ValidatedLaunch] = []
    authenticate = hub.authenticator.authenticate

    async def spy(handler: Any, data: Any = None) -> Any:
        seen.append(data)
        return await authenticate(handler, data)

    monkeypatch.setattr(hub.authenticator, "authenticate", spy)
    return seen


@dataclass
class RestartableHub:
    """One hub configuration and database, started as often as a test needs."""

    config: Config
    origin: str
    platform: LTI13Platform
    keycloak: KeycloakWire

    @asynccontextmanager
    async def running(self) -> AsyncIterator[HubUnderTest]:
        app = await start_hub(self.config)
        try:
            yield HubUnderTest(app, self.origin, self.platform, self.keycloak)
        finally:
            await stop_hub(app)
