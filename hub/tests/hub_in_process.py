"""JupyterHub's own MockHub in the test's event loop, configured by `hubconfig.configure`.

Requests go through the real REST API, spawn page and `User.spawn` to the real ProfileSpawner; only
the pod is missing (`podless_spawner`) and the proxy keeps routes in memory (`memory_proxy`). The
spawner objects stay inspectable, so tests see what a pod would have got.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from hub_fakes import DEPLOYMENT, lti_course
from jupyterhub.crypto import CryptKeeper
from jupyterhub.tests.mocking import MockHub
from jupyterhub.tests.utils import AsyncSession
from memory_proxy import MemoryProxy
from podless_spawner import PodlessProfileSpawner
from traitlets.config import Config

from hubconfig import configure
from hubconfig.config import Deployment

SERVICE_TOKEN = "0123456789abcdef" * 4


@dataclass
class HubUnderTest:
    app: MockHub

    def url(self, path: str) -> str:
        """Absolute URL of a hub route, e.g. url("api/users/stu/server")."""
        return f"{self.app.hub.url}{path}"

    async def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST API request as an administrator's service; returns the requests Response."""
        headers = {"Authorization": f"token {SERVICE_TOKEN}"}
        return await AsyncSession().request(
            method, self.url(f"api{path}"), headers=headers, **kwargs
        )

    async def login(self, name: str) -> AsyncSession:
        """A browser session of `name`, logged in through the hub's login form."""
        browser = AsyncSession()
        await browser.get(self.url("login"))
        xsrf = browser.cookies["_xsrf"]
        form = {"username": name, "password": name, "_xsrf": xsrf}
        response = await browser.post(self.url("login"), data=form, allow_redirects=False)
        assert response.status_code == 302, response.text
        return browser

    async def launch_from_course(self, name: str, course_key: str) -> None:
        """What an LTI launch leaves behind: the course recorded in the user's auth state."""
        await self.app.users[name].save_auth_state({"course": lti_course(course_key)})

    def spawner(self, name: str, server: str = "") -> PodlessProfileSpawner:
        """The spawner of `name`'s server, after `User.spawn` used it."""
        return self.app.users[name].spawners[server]

    def stored_options(self, name: str, server: str = "") -> dict[str, Any]:
        """The options JupyterHub keeps for the server's next start without any."""
        orm_spawner = self.spawner(name, server).orm_spawner
        self.app.db.refresh(orm_spawner)
        return orm_spawner.user_options or {}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hub_config(
    chart_values: dict[str, Any],
    groups: dict[str, list[str]],
    real_login: bool = False,
    spawner_traits: dict[str, Any] | None = None,
    deployment: Deployment = DEPLOYMENT,
) -> Config:
    """The chart's configuration with a test proxy and spawner, and these groups; the login is
    JupyterHub's dummy one admitting everyone, or with `real_login` the values' own (the
    chart's authenticator with its `hub.config`). `spawner_traits` replace what the chart
    set (e.g. a GPU availability reader of a test API)."""
    chart_values["hub"]["services"] = {"tester": {"apiToken": SERVICE_TOKEN}}
    chart_values["hub"]["loadRoles"] = {
        "tester": {"scopes": ["admin:users", "admin:servers"], "services": ["tester"]}
    }
    # The culler would run as a process calling the hub on its pod-local port.
    chart_values["cull"]["enabled"] = False
    c = Config()
    configure(c, chart_values, deployment)
    port = _free_port()
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port}"
    c.JupyterHub.hub_connect_url = f"http://127.0.0.1:{port}"
    c.JupyterHub.proxy_class = MemoryProxy
    c.JupyterHub.spawner_class = PodlessProfileSpawner
    for name, value in (spawner_traits or {}).items():
        c.ProfileSpawner[name] = value
    # MockHub admits everyone unless Authenticator.allow_all is set; the real login is the
    # values' own admission, which the chart leaves at JupyterHub's default, False.
    c.Authenticator.allow_all = not real_login
    if not real_login:
        c.JupyterHub.authenticator_class = "dummy"
    c.JupyterHub.load_groups = {name: {"users": users} for name, users in groups.items()}
    # Stop the podless servers with the hub rather than leave their listeners running.
    c.JupyterHub.cleanup_servers = True
    c.Authenticator.enable_auth_state = True
    c.CryptKeeper.keys = [os.urandom(32)]
    # Kept in memory: the hub would otherwise write it into the working directory.
    c.JupyterHub.cookie_secret = os.urandom(32)
    return c


@asynccontextmanager
async def running_hub(
    chart_values: dict[str, Any],
    groups: dict[str, list[str]],
    real_login: bool = False,
    spawner_traits: dict[str, Any] | None = None,
    deployment: Deployment = DEPLOYMENT,
) -> AsyncIterator[HubUnderTest]:
    app = MockHub.instance(
        config=hub_config(chart_values, groups, real_login, spawner_traits, deployment)
    )
    await app.initialize([])
    await app.start()
    try:
        yield HubUnderTest(app)
    finally:
        app.log.handlers = []
        MockHub.clear_instance()
        CryptKeeper.clear_instance()
        await app.stop()
