"""Map the chart's values onto JupyterHub, proxy and spawner configuration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy.engine import make_url
from traitlets.config import Config

from hubconfig import culler, extra_config, kube_api, lab_pod, storage, values
from hubconfig.gpu_availability import GpuAvailability
from hubconfig.gpu_quota import GpuQuota
from hubconfig.images import reference
from hubconfig.profiles import ProfileCatalogue
from hubconfig.spawner import ProfileSpawner
from hubconfig.start_queue import StartQueue

HUB_PORT = 8081
PROXY_API_PORT = 8001
# The JupyterHub service whose token (the chart's metrics Secret) may read /hub/metrics only.
METRICS_SCRAPER = "metrics-scraper"


@dataclass(frozen=True)
class Deployment:
    """Facts about the running release that the chart passes to the hub as environment variables."""

    values_path: Path
    release: str
    namespace: str
    hub_host: str
    proxy_api_host: str
    db_password: str | None = None
    # The API server's in-cluster address (from the kubelet's variables); None outside a pod.
    kubernetes_api: str | None = None
    metrics_token: str | None = None
    # The PriorityClass of labs, when `scheduling.podPriority.enabled` makes one.
    lab_priority_class: str | None = None

    ENVIRONMENT: ClassVar[dict[str, str]] = {
        "values_path": values.VALUES_PATH_ENV,
        "release": "JUPYTERHUB_K8S_RELEASE",
        "namespace": "POD_NAMESPACE",
        "hub_host": "JUPYTERHUB_K8S_HUB_SERVICE",
        "proxy_api_host": "JUPYTERHUB_K8S_PROXY_API_SERVICE",
    }
    OPTIONAL_ENVIRONMENT: ClassVar[dict[str, str]] = {
        "db_password": "JUPYTERHUB_K8S_DB_PASSWORD",
        "metrics_token": "JUPYTERHUB_K8S_METRICS_TOKEN",
        "lab_priority_class": "JUPYTERHUB_K8S_LAB_PRIORITY_CLASS",
    }

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Deployment:
        missing = [name for name in cls.ENVIRONMENT.values() if not environ.get(name)]
        if missing:
            raise values.ValuesError(
                f"the hub's environment lacks {', '.join(missing)}; the chart's hub Deployment "
                "sets them, so run the hub through the chart (or set them for a local test)"
            )
        found = {field: environ[name] for field, name in cls.ENVIRONMENT.items()}
        optional = {
            field: environ.get(name) or None for field, name in cls.OPTIONAL_ENVIRONMENT.items()
        }
        return cls(
            **{**found, **optional, "values_path": Path(found["values_path"])},
            kubernetes_api=kube_api.kubernetes_api_url(environ),
        )


def configure(c: Config, chart_values: dict[str, Any], deployment: Deployment) -> None:
    """Fill `c` from schema-valid chart values; then `hub.config` and, last, `hub.extraConfig`.

    ValuesError when values break a rule across keys, so the hub does not start with them.
    """
    catalogue = ProfileCatalogue.from_values(chart_values["singleuser"])
    _configure_hub(c, chart_values["hub"], deployment)
    _configure_spawner(c, chart_values["singleuser"], catalogue, deployment)
    services, roles = hub_services(chart_values, deployment.metrics_token)
    if services:
        c.JupyterHub.services = services
    if roles:
        c.JupyterHub.load_roles = roles
    if "db_url" in chart_values["hub"]["config"].get("JupyterHub", {}):
        raise values.ValuesError(
            "hub.config.JupyterHub.db_url is not used: set hub.db.type and hub.db.url, and put "
            "the password in hub.existingSecret under the key hub.db-password"
        )
    if chart_values.get("debug", {}).get("enabled"):
        # z2jh's debug.enabled: the hub logs at DEBUG and every lab starts with --debug.
        c.Application.log_level = "DEBUG"
        c.Spawner.debug = True
    for class_name, traits in chart_values["hub"]["config"].items():
        for trait_name, value in traits.items():
            c[class_name][trait_name] = value
    extra_config.run(c, chart_values)


def hub_services(
    chart_values: dict[str, Any], metrics_token: str | None = None
) -> tuple[list[dict], list[dict]]:
    """Services and roles: the culler's, the metrics scraper's (with `hub.authenticatePrometheus`
    and the token of the chart's metrics Secret), then those in `hub.services` and
    `hub.loadRoles`."""
    hub = chart_values["hub"]
    services: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    if hub["authenticatePrometheus"] and metrics_token:
        services.append({"name": METRICS_SCRAPER, "api_token": metrics_token})
        roles.append(
            {"name": METRICS_SCRAPER, "scopes": ["read:metrics"], "services": [METRICS_SCRAPER]}
        )
    if chart_values["cull"]["enabled"]:
        base_path = hub["baseUrl"].rstrip("/")
        local_api = f"http://localhost:{HUB_PORT}{base_path}/hub/api"
        services.append(culler.culler_service(chart_values["cull"], local_api))
        roles.append(culler.culler_role(chart_values["cull"]))
    for name, service in hub["services"].items():
        entry = {key: value for key, value in service.items() if key != "apiToken"}
        if "apiToken" in service:
            entry["api_token"] = service["apiToken"]
        services.append({**entry, "name": name})
    roles.extend({**role, "name": name} for name, role in hub["loadRoles"].items())
    return services, roles


def configure_from_environment(c: Config, environ: Mapping[str, str] = os.environ) -> None:
    """What the chart's jupyterhub_config.py calls: read the mounted values and configure `c`.

    Bad values stop the hub with the list of problems instead of a traceback.
    """
    try:
        deployment = Deployment.from_environ(environ)
        configure(c, values.load(deployment.values_path), deployment)
    except values.ValuesError as error:
        raise SystemExit(f"jupyterhub-k8s: {error}") from None


def database_url(db: dict[str, Any], password: str | None) -> str:
    """SQLAlchemy URL of the hub database; the sqlite file lives in the hub's working directory."""
    if db["type"] == "sqlite-memory":
        return "sqlite://"
    if db["type"] == "sqlite-pvc":
        return "sqlite:///jupyterhub.sqlite"
    if not db["url"]:
        raise values.ValuesError("hub.db.type is external but hub.db.url is empty; set the URL")
    url = make_url(db["url"])
    if url.password is not None or "password" in url.query:
        raise values.ValuesError(
            "hub.db.url carries a password; remove it and put it in the Secret hub.existingSecret "
            "names, under the key hub.db-password"
        )
    if password:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def hub_database_url(environ: Mapping[str, str]) -> str:
    """The URL (with its password) of the database of the hub whose environment this is, for
    commands run in the hub's container; ValuesError when the environment or values are not
    a hub's."""
    deployment = Deployment.from_environ(environ)
    return database_url(values.load(deployment.values_path)["hub"]["db"], deployment.db_password)


def lab_labels(release: str) -> dict[str, str]:
    """Labels of lab pods and volumes; the chart's NetworkPolicies select lab pods by them."""
    return {
        "app.kubernetes.io/name": "jupyterhub-k8s",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "singleuser-server",
        "app.kubernetes.io/managed-by": "kubespawner",
    }


def _configure_hub(c: Config, hub: dict[str, Any], deployment: Deployment) -> None:
    c.JupyterHub.spawner_class = ProfileSpawner
    c.JupyterHub.base_url = hub["baseUrl"]
    c.JupyterHub.hub_bind_url = f"http://:{HUB_PORT}"
    c.JupyterHub.hub_connect_url = f"http://{deployment.hub_host}:{HUB_PORT}"
    # Labs keep running while the hub restarts (Recreate); the proxy keeps their routes.
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.allow_named_servers = hub["allowNamedServers"]
    c.JupyterHub.named_server_limit_per_user = hub["namedServerLimitPerUser"]
    c.JupyterHub.concurrent_spawn_limit = hub["concurrentSpawnLimit"]
    # One line of starts for the whole hub process, shared by every spawner.
    c.ProfileSpawner.start_queue = (
        StartQueue(hub["concurrentStarts"]) if hub["concurrentStarts"] else None
    )
    c.JupyterHub.active_server_limit = hub["activeServerLimit"]
    # A Spawner trait, for the hub as a whole: JupyterHub reads it from the spawner that failed.
    c.Spawner.consecutive_failure_limit = hub["consecutiveFailureLimit"]
    c.JupyterHub.db_url = database_url(hub["db"], deployment.db_password)
    c.JupyterHub.authenticate_prometheus = hub["authenticatePrometheus"]
    c.Application.log_level = hub["logLevel"]
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = f"http://{deployment.proxy_api_host}:{PROXY_API_PORT}"


def _configure_spawner(
    c: Config, singleuser: dict[str, Any], catalogue: ProfileCatalogue, deployment: Deployment
) -> None:
    spawner = c.ProfileSpawner
    spawner.profile_catalogue = catalogue
    spawner.gpu_quota = GpuQuota.from_values(singleuser["gpuQuota"])
    spawner.gpu_availability = GpuAvailability(
        kube_api.json_reader(deployment.kubernetes_api)
        if singleuser["gpu"]["availability"]["enabled"] and deployment.kubernetes_api
        else None
    )
    spawner.skip_form_for_courses = singleuser["skipFormForCourses"]
    spawner.namespace = deployment.namespace
    spawner.image = reference(singleuser["image"])
    spawner.image_pull_policy = singleuser["image"].get("pullPolicy", "IfNotPresent")
    spawner.image_pull_secrets = singleuser["imagePullSecrets"]
    spawner.default_url = singleuser["defaultUrl"]
    for name, value in lab_pod.spawner_traits(singleuser).items():
        spawner[name] = value
    spawner.fs_gid = singleuser["fsGid"]
    spawner.start_timeout = singleuser["startTimeout"]
    spawner.unschedulable_timeout = singleuser["unschedulableTimeout"]
    spawner.http_timeout = singleuser["httpTimeout"]
    spawner.slow_spawn_message = singleuser["slowSpawnMessage"]
    spawner.common_labels = lab_labels(deployment.release)
    if deployment.lab_priority_class:
        spawner.priority_class_name = deployment.lab_priority_class
    lab_storage = storage.lab_storage(singleuser["storage"])
    for name, value in lab_storage.traits.items():
        spawner[name] = value
    spawner.volumes = lab_storage.volumes
    spawner.volume_mounts = lab_storage.volume_mounts
    spawner.course_folders = storage.CourseFolders.from_values(singleuser["storage"]["shared"])
