"""Test helpers: chart values as Helm merges them, and the hub objects the spawner reads.

Fixtures live here, not in a conftest.py, and test modules import them: several test folders
share one pytest run, and modules importing from "conftest" would get another folder's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from jupyterhub.objects import Hub
from kubernetes_asyncio.config import kube_config
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.web import Application, RequestHandler
from traitlets.config import Config

from hubconfig import configure
from hubconfig.auth_state import COURSE, COURSE_KEY
from hubconfig.config import Deployment
from hubconfig.spawner import ProfileSpawner

CHART = Path(__file__).resolve().parents[2] / "helm" / "jupyterhub-k8s"
VALUES_FILES = Path(__file__).resolve().parents[2] / "helm"

DEPLOYMENT = Deployment(
    values_path=Path("/unused"),
    release="jh",
    namespace="teaching",
    hub_host="jh-hub",
    proxy_api_host="jh-proxy-api",
)


def hub_environment(values_path: Path) -> dict[str, str]:
    """What the chart's hub Deployment sets for `hubconfig.configure_from_environment`."""
    return {
        "JUPYTERHUB_K8S_VALUES": str(values_path),
        "JUPYTERHUB_K8S_RELEASE": DEPLOYMENT.release,
        "POD_NAMESPACE": DEPLOYMENT.namespace,
        "JUPYTERHUB_K8S_HUB_SERVICE": DEPLOYMENT.hub_host,
        "JUPYTERHUB_K8S_PROXY_API_SERVICE": DEPLOYMENT.proxy_api_host,
    }


# Profiles covering every rule: open to all, group-restricted, GPU, course-only.
PROFILES = [
    {
        "slug": "cpu",
        "displayName": "Python lab",
        "default": True,
        "cpu": {"guarantee": 0.5, "limit": 2},
        "memory": {"guarantee": "1G", "limit": "4G"},
    },
    {
        "slug": "nlp",
        "displayName": "NLP lab",
        "image": "lab-nlp",
        "cpu": {"limit": 4},
        "memory": {"limit": "8G"},
        "allowedGroups": ["course-moodle.nlp-101", "instructor"],
    },
    {
        "slug": "gpu",
        "displayName": "GPU lab",
        "cpu": {"guarantee": 1, "limit": 8},
        "memory": {"guarantee": "8G", "limit": "16G"},
        "gpus": 2,
        "allowedGroups": ["gpu", "instructor"],
        "startTimeout": 900,
        "httpTimeout": 240,
    },
]


def merge(base: Any, override: Any) -> Any:
    """Helm's values merge: maps merge key by key, anything else (lists too) is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def chart_defaults() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def values_with(*overrides: dict[str, Any]) -> dict[str, Any]:
    """Chart defaults merged with overrides, with nulls dropped as Helm drops them."""
    merged: Any = chart_defaults()
    for override in overrides:
        merged = merge(merged, override)
    return _drop_nulls(merged)


def _drop_nulls(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _drop_nulls(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [_drop_nulls(item) for item in node]
    return node


@dataclass(eq=False)
class FakeGroup:
    name: str
    users: list[Any] = field(default_factory=list)


@dataclass(eq=False)
class FakeServer:
    """Another server in the hub: what the GPU quota reads of it."""

    name: str
    gpus_held: int
    active: bool = True
    gpu_resource_held: str = "nvidia.com/gpu"


@dataclass(eq=False)
class FakeOrmSpawner:
    """The database row behind a spawner: its server name, and no running server yet."""

    name: str
    server: Any = None
    user_options: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class FakeUser:
    """The parts of JupyterHub's User the spawner and quota read."""

    name: str
    groups: list[FakeGroup] = field(default_factory=list)
    auth_state: dict[str, Any] | None = None
    spawners: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    id: int = 1
    url: str = "/user/x/"

    async def get_auth_state(self) -> dict[str, Any] | None:
        return self.auth_state


class FakeUsers(dict):
    """JupyterHub's UserDict maps orm users to User wrappers; here both are FakeUser."""

    def __getitem__(self, user: FakeUser) -> FakeUser:
        return user


def lti_course(key: str) -> dict[str, str]:
    """auth_state `course` as the authenticator records an LTI launch: `<platform>/<context_id>`."""
    platform, context_id = key.split("/", 1)
    return {COURSE_KEY: key, "platform": platform, "context_id": context_id, "title": "A course"}


def hub_user(
    name: str, groups: list[str], course: str | None = None, registry: FakeUsers | None = None
) -> FakeUser:
    """`course`: the course key of the user's latest LTI launch, if any."""
    auth_state = {"login_source": "lti13", COURSE: lti_course(course)} if course else None
    user = FakeUser(name=name, auth_state=auth_state)
    user.settings = {"users": registry if registry is not None else FakeUsers()}
    user.groups = [FakeGroup(group) for group in groups]
    for group in user.groups:
        group.users.append(user)
    return user


@pytest.fixture(name="chart_values")
def chart_values_fixture() -> dict[str, Any]:
    """Chart defaults with the test profiles, a lab image map, a course mapping and GPU quotas."""
    return values_with(
        {
            "singleuser": {
                "images": {"lab-nlp": {"name": "example/lab-nlp", "tag": "7"}},
                "profileList": PROFILES,
                "courseProfiles": {"moodle/nlp-101": "nlp"},
                "gpuQuota": {"perUser": 2, "perGroup": {"gpu": 3}},
            }
        }
    )


@pytest.fixture(name="offline_kubeconfig", scope="session")
def offline_kubeconfig_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """KubeSpawner loads a kubeconfig when constructed; give it one that points nowhere."""
    path = tmp_path_factory.mktemp("kube") / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "unit", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "unit", "user": {"token": "unit-test"}}],
                "contexts": [{"name": "unit", "context": {"cluster": "unit", "user": "unit"}}],
                "current-context": "unit",
            }
        )
    )
    patch = pytest.MonkeyPatch()
    # Read at call time; the KUBECONFIG variable was read when the module was imported.
    patch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    yield
    patch.undo()


def hub_request(
    handler_class: type[RequestHandler], method: str, uri: str, body: bytes = b""
) -> Any:
    """A real JupyterHub handler for one request, as the spawner sees it in `spawner.handler`."""
    request = HTTPServerRequest(
        start_line=RequestStartLine(method, uri, "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "hub.example", "Content-Type": "application/json"}),
        body=body,
        connection=mock.Mock(),
    )
    return handler_class(Application(hub=Hub()), request)


def make_spawner(chart_values: dict, user: FakeUser, name: str = "") -> ProfileSpawner:
    """A ProfileSpawner for `user`'s server `name`, as the chart configures it (mock, no pod)."""
    config = Config()
    configure(config, chart_values, DEPLOYMENT)
    # As `hub.config` could set them: what every lab gets, which profiles add to.
    config.ProfileSpawner.volumes = [{"name": "home", "emptyDir": {}}]
    config.ProfileSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}]
    config.ProfileSpawner.node_selector = {"pool": "labs"}
    config.ProfileSpawner.slow_spawn_message = "Starting {profile} within {start_timeout}s"
    spawner = ProfileSpawner(config=config, user=user, orm_spawner=FakeOrmSpawner(name), _mock=True)
    user.spawners[name] = spawner
    return spawner


# The hub's crypt key (hub.crypt-key), as the chart gives it to the hub: it seals backups too.
CRYPT_KEY = "c0" * 32


def sqlite_hub_environment(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a chart hub on its `sqlite-pvc` database, working in `folder` (the
    chart's sqlite file is relative to the hub's working directory)."""
    values_path = folder / "values.yaml"
    values_path.write_text(yaml.safe_dump(values_with({"hub": {"db": {"type": "sqlite-pvc"}}})))
    monkeypatch.chdir(folder)
    return {**hub_environment(values_path), "JUPYTERHUB_CRYPT_KEY": CRYPT_KEY}
