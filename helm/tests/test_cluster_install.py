"""Install the chart into the kind cluster and spawn through the REST API as a service.

Needs `python -m devenv.cluster up` and the images built (`python -m tools.images build hub
configurable-http-proxy lab-base`). The release lives in its own namespace and is removed after.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from chart_render import CHART, DEV_VALUES, run_helm

from devenv import cluster, cluster_config
from devenv.dev_env import dev_lab_keys
from tools.images import lock
from tools.images.chart_values import image_values

pytestmark = pytest.mark.cluster

NAMESPACE = "hubconfig-e2e"
RELEASE = "e2e"
HUB_SERVICE = f"{RELEASE}-jupyterhub-k8s-hub"
TOKEN = "e2e0" * 16
NEEDED_IMAGES = ("hub", "configurable-http-proxy", "lab-base")
SPAWN_WAIT_S = 300
CLUSTER = cluster_config.current()
KUBECTL = CLUSTER.kubectl.in_namespace(NAMESPACE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def release_values() -> dict[str, Any]:
    locked = lock.read()
    missing = [name for name in NEEDED_IMAGES if name not in locked]
    if missing:
        pytest.fail(f"images not built: run `python -m tools.images build {' '.join(missing)}`")
    locked = {**locked, **cluster.push_images(NEEDED_IMAGES)}
    images = image_values(locked, dev_lab_keys())
    return {
        **images,
        "hub": {
            **images["hub"],
            "services": {"e2e": {"apiToken": TOKEN}},
            "loadRoles": {
                "e2e": {
                    "scopes": ["admin:users", "admin:servers", "admin:groups"],
                    "services": ["e2e"],
                }
            },
        },
        "proxy": {**images["proxy"], "service": {"type": "ClusterIP"}},
        "singleuser": {
            **images["singleuser"],
            # hostPath course data is covered by template tests; keep this release self-contained.
            "storage": {"shared": {"enabled": False}},
        },
    }


def install(*overrides: Path, release: str = RELEASE, namespace: str = NAMESPACE) -> None:
    """Install (or upgrade) the chart as `release` in `namespace`: the dev values, then each of
    `overrides`."""
    files = [arg for path in overrides for arg in ("-f", str(path))]
    installed = run_helm(
        "upgrade", "--install", release, str(CHART), "--kube-context", CLUSTER.context,
        "--namespace", namespace, "--create-namespace", "-f", str(DEV_VALUES), *files,
        "--wait", "--timeout", "5m", timeout_s=360,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr


@contextmanager
def installed_hub_api(
    *overrides: Path, release: str = RELEASE, namespace: str = NAMESPACE
) -> Iterator[str]:
    """The hub API's URL of a release installed for the test in a namespace of its own (through
    a port-forward); the release and its namespace are removed after."""
    try:
        install(*overrides, release=release, namespace=namespace)
        port = free_port()
        url = f"http://127.0.0.1:{port}/hub/api"
        hub_service = f"svc/{release}-jupyterhub-k8s-hub"
        with CLUSTER.kubectl.in_namespace(namespace).port_forward(hub_service, port, 8081):
            wait_until(lambda: _answers(url), 60, "the hub API through port-forward")
            yield url
    finally:
        # --ignore-not-found: after a failed install, a failing clean-up would hide its error.
        run_helm(
            "uninstall", release, "--ignore-not-found",
            "--kube-context", CLUSTER.context, "--namespace", namespace,
        )  # fmt: skip
        # Wait, so that the next run does not meet a namespace still terminating.
        CLUSTER.kubectl(
            "delete", "namespace", namespace, "--ignore-not-found", "--timeout=300s", timeout=330
        )


@pytest.fixture(scope="module")
def overrides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "values-e2e.yaml"
    path.write_text(yaml.safe_dump(release_values()))
    return path


@pytest.fixture(scope="module")
def hub_api(overrides: Path) -> Iterator[str]:
    with installed_hub_api(overrides) as url:
        yield url


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


def wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")


def api(url: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"token {TOKEN}"}
    return requests.request(method, f"{url}{path}", headers=headers, timeout=60, **kwargs)


def user_in_group(url: str, user: str, group: str) -> None:
    api(url, "POST", f"/users/{user}")
    api(url, "POST", f"/groups/{group}")
    added = api(url, "POST", f"/groups/{group}/users", json={"users": [user]})
    assert added.ok, added.text


def pods_of(user: str) -> list[dict[str, Any]]:
    return KUBECTL.get("pods", "-l", f"hub.jupyter.org/username={user}")["items"]


def test_gpu_spawn_gets_the_profiles_pod(hub_api: str) -> None:
    user_in_group(hub_api, "grace", "gpu")
    started = api(hub_api, "POST", "/users/grace/server", json={"profile": "gpu", "gpus": 1})
    assert started.status_code in (201, 202), started.text
    wait_until(
        lambda: api(hub_api, "GET", "/users/grace").json()["servers"].get("", {}).get("ready"),
        SPAWN_WAIT_S,
        "grace's GPU lab to be ready",
    )
    (pod,) = pods_of("grace")
    spec = pod["spec"]
    (lab,) = [c for c in spec["containers"] if c["name"] == "notebook"]
    assert lab["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert lab["resources"]["limits"]["cpu"] == "2"
    # As release_values() pushed it to the local registry: the nodes pull it by digest.
    assert lab["image"] == lock.read()["lab-base"].digest
    assert spec["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    assert {
        "key": "nvidia.com/gpu",
        "operator": "Equal",
        "value": "present",
        "effect": "NoSchedule",
    } in spec["tolerations"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"]["claimName"] == "claim-grace"
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    # The dev quota is one GPU per user: a second server with a GPU is refused, without a pod.
    second = api(hub_api, "POST", "/users/grace/servers/second", json={"profile": "gpu"})
    assert second.status_code == 403, second.text
    assert "You already hold 1 GPU(s) in: your default server (1)" in second.json()["message"]
    assert len(pods_of("grace")) == 1
    api(hub_api, "DELETE", "/users/grace/server")


def test_refused_gpu_request_creates_no_pod(hub_api: str) -> None:
    user_in_group(hub_api, "stu", "students")
    refused = api(hub_api, "POST", "/users/stu/server", json={"profile": "gpu"})
    assert refused.status_code == 403
    assert "only for members of" in refused.json()["message"]
    assert pods_of("stu") == []


def test_gpu_beyond_the_profile_creates_no_pod(hub_api: str) -> None:
    user_in_group(hub_api, "gina", "gpu")
    refused = api(hub_api, "POST", "/users/gina/server", json={"profile": "gpu", "gpus": 5})
    assert refused.status_code == 403
    assert "offers at most 2 GPU(s)" in refused.json()["message"]
    assert pods_of("gina") == []


def test_upgrade_keeps_the_generated_tokens(hub_api: str, overrides: Path) -> None:
    def tokens() -> dict[str, str]:
        return KUBECTL.get("secret", HUB_SERVICE)["data"]

    before = tokens()
    install(overrides)
    assert tokens() == before
    assert api(hub_api, "GET", "/users").ok
