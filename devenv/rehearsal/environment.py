"""What the rehearsal is: the dev environment's shape (devenv.dev_env.DevEnvironment) on other
URLs, ports and namespace, so every step and story that takes an environment takes this one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property

from devenv import cluster_config
from devenv.dev_env import HUB_SERVICE_PORT, KEYCLOAK_PORT, MOCK_MOODLE_PORT, DevEnvironment
from devenv.host_names import HostRoute
from devenv.tls import SITES

NAMESPACE = "rehearsal"
HUB_RELEASE = "jupyterhub"
SERVICES_RELEASE = "rehearsal-services"
HTTPS_PORT = 443
# The rehearsal's NodePorts (devenv/kind/ports.yaml), by service.
NODE_PORTS = {
    HUB_SERVICE_PORT: "rehearsal-hub",
    KEYCLOAK_PORT: "rehearsal-keycloak",
    MOCK_MOODLE_PORT: "rehearsal-moodle",
}
HUB_HTTP_PORT = "rehearsal-hub-http"
# The hub's calls inside the cluster go to the Services by name, over HTTPS too: each site's
# certificate names its Service as well (devenv.tls.SITES).
KEYCLOAK_SERVICE_URL = "https://keycloak"
MOCK_MOODLE_SERVICE_URL = "https://mock-moodle:8100"
# The site (devenv.tls.SITES) each service is served as.
SITE_OF = {HUB_SERVICE_PORT: "hub", KEYCLOAK_PORT: "login", MOCK_MOODLE_PORT: "moodle"}


@dataclass(frozen=True)
class RehearsalEnvironment(DevEnvironment):
    """The dev environment's services as a campus serves them: `https://<site name>` (port 443
    in every URL), which Chromium and the tests route to the rehearsal's NodePorts."""

    namespace: str = NAMESPACE

    @cached_property
    def public_urls(self) -> Mapping[str, str]:
        return {service: f"https://{SITES[site][0]}" for service, site in SITE_OF.items()}

    @property
    def releases(self) -> tuple[str, str]:
        return HUB_RELEASE, SERVICES_RELEASE

    @property
    def mock_moodle_service_url(self) -> str:
        return MOCK_MOODLE_SERVICE_URL

    @property
    def service_node_ports(self) -> dict[str, int]:
        ports = self.cluster.host_ports
        return {
            "keycloak": ports[NODE_PORTS[KEYCLOAK_PORT]],
            "mockMoodle": ports[NODE_PORTS[MOCK_MOODLE_PORT]],
        }

    @property
    def hub_node_ports(self) -> tuple[int, int]:
        """The proxy's NodePorts: (HTTPS, plain HTTP)."""
        ports = self.cluster.host_ports
        return ports[NODE_PORTS[HUB_SERVICE_PORT]], ports[HUB_HTTP_PORT]

    @property
    def routes(self) -> tuple[HostRoute, ...]:
        """Each site's names (users' subdomains too) on port 443, to its NodePort on loopback."""
        ports = self.cluster.host_ports
        return tuple(
            HostRoute(name, HTTPS_PORT, ports[NODE_PORTS[service]])
            for service, site in SITE_OF.items()
            for name in SITES[site]
            if "." in name
        )


@cache
def current() -> RehearsalEnvironment:
    return RehearsalEnvironment(cluster_config.current())
