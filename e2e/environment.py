"""The environment the e2e tests run against: the dev environment (`python -m devenv.dev_env up`)
or the production rehearsal (`python -m devenv.rehearsal up`, `--environment=rehearsal`): its
URLs, accounts and a kubectl for its namespace. The stories are the same for both."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

from jupyterhub.utils import subdomain_hook_idna

from dev_keycloak.server import DevUser
from devenv import dev_env
from tools.kube import Kubectl

LAB_POD_SELECTOR = "app.kubernetes.io/component=singleuser-server"
USERNAME_LABEL = "hub.jupyter.org/username"


@dataclass(frozen=True)
class Environment:
    """URLs as a browser on the host reaches them, and the dev accounts of the realm file."""

    deployed: dev_env.DevEnvironment

    @classmethod
    def of(cls, deployed: dev_env.DevEnvironment) -> Environment:
        return cls(deployed)

    @property
    def hub_url(self) -> str:
        return self.deployed.hub_url

    @property
    def keycloak_url(self) -> str:
        return self.deployed.keycloak_url

    @property
    def mock_moodle_url(self) -> str:
        return self.deployed.mock_moodle_url

    @property
    def subdomain_host(self) -> str:
        return self.deployed.subdomain_host

    @property
    def namespace(self) -> str:
        return self.deployed.namespace

    def user_url(self, username: str, path: str = "") -> str:
        """`path` on the user's server, on the user's own origin: JupyterHub's subdomain for
        the name (its own hook, so escaping agrees) under `subdomain_host`, never the hub's.
        Every test reaches a user's server through this URL."""
        host = urlsplit(self.subdomain_host)
        domain = subdomain_hook_idna(username, host.hostname, "user")
        port = f":{host.port}" if host.port else ""
        return f"{host.scheme}://{domain}{port}/user/{quote(username, safe='@~')}/{path}"

    @property
    def user_url_pattern(self) -> re.Pattern[str]:
        """Any user's server (what the hub redirects to once a server runs)."""
        host = urlsplit(self.subdomain_host)
        return re.compile(
            re.escape(f"{host.scheme}://") + r"[^/]+\." + re.escape(host.netloc) + "/user/"
        )

    @property
    def accounts(self) -> dict[str, DevUser]:
        return dict(self.deployed.accounts)

    @cached_property
    def kubectl(self) -> Kubectl:
        """kubectl in the environment's namespace (RunError with its output when it fails)."""
        return self.deployed.kubectl

    def lab_pods(self, username: str) -> list[dict[str, Any]]:
        """The user's single-user server pods (none when no server runs)."""
        return self.lab_pods_by_user(username).get(username, [])

    def lab_pods_by_user(self, username: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Single-user server pods by their user's name label (one user's, or everyone's)."""
        selector = LAB_POD_SELECTOR + (f",{USERNAME_LABEL}={username}" if username else "")
        pods: dict[str, list[dict[str, Any]]] = {}
        for pod in json.loads(self.kubectl("get", "pods", "-l", selector, "-o", "json"))["items"]:
            pods.setdefault(pod["metadata"]["labels"].get(USERNAME_LABEL, ""), []).append(pod)
        return pods
