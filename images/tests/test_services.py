"""Dev-service images start and answer."""

import json
import time
from pathlib import Path

import pytest
from containers import docker_run

REPO_ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = REPO_ROOT / "devservices" / "dev_keycloak" / "campus-realm.json"
# The fake GPU plugin's configs as its chart's ConfigMaps hold them.
GPU_PLUGIN_FILES = REPO_ROOT / "devenv" / "kind" / "fake-gpu-plugin" / "files"


@pytest.mark.image("configurable-http-proxy")
def test_proxy_runs_on_node_20_or_newer_and_answers(image: str, start) -> None:
    version = docker_run(image, "--version", entrypoint="node").strip()
    assert int(version.lstrip("v").split(".")[0]) >= 20, version
    proxy = start(image, "--default-target=http://127.0.0.1:9", ports=(8000, 8001))
    proxy.wait_for_http(8000, "/_chp_healthz")


@pytest.mark.image("mock-moodle")
def test_mock_moodle_answers(image: str, start) -> None:
    moodle = start(image, ports=(8100,))
    moodle.wait_for_http(8100, "/healthz")
    assert {"lti11", "lti13"} <= set(json.loads(moodle.wait_for_http(8100, "/platform.json")))


@pytest.mark.image("keycloak")
def test_keycloak_imports_a_mounted_realm(image: str, start) -> None:
    keycloak = start(
        image,
        ports=(8080, 9000),
        volumes=(f"{REALM_FILE}:/opt/keycloak/data/import/realm.json:ro",),
    )
    keycloak.wait_for_http(9000, "/health/ready", timeout=300)
    realm = json.loads(REALM_FILE.read_text())["realm"]
    issuer = json.loads(
        keycloak.wait_for_http(8080, f"/realms/{realm}/.well-known/openid-configuration")
    )["issuer"]
    assert issuer.endswith(f"/realms/{realm}")
    deadline = time.monotonic() + 60
    while keycloak.health() != "healthy" and time.monotonic() < deadline:
        time.sleep(2)
    assert keycloak.health() == "healthy"


@pytest.mark.image("fake-gpu-plugin")
def test_device_plugin_serves_on_its_socket_without_a_kubelet(image: str, start) -> None:
    """With the dev cluster's configs (NVIDIA's formats) for its T4 node, named by flag as there is
    no Kubernetes API to read the node's labels from."""
    plugin = start(
        image,
        "serve",
        "--device-plugin-config=t4-time-sliced",
        volumes=(f"{GPU_PLUGIN_FILES}:/etc/fake-gpu:ro",),
        env={"NODE_NAME": "jupyterhub-k8s-worker2"},
    )
    plugin.wait_for_exec("python3", "-m", "fake_gpu", "probe", timeout=60)
