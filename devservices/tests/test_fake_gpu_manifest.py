"""The plugin's DaemonSet agrees with the plugin: settings it passes, paths it mounts, its probe."""

from __future__ import annotations

import pytest
import yaml

from fake_gpu import config
from fake_gpu.__main__ import parse_arguments
from tools.bootstrap.paths import REPO_ROOT
from tools.images import spec

MANIFEST = REPO_ROOT / "devenv" / "kind" / "fake-gpu-plugin.yaml"


@pytest.fixture(scope="module")
def daemonset() -> dict:
    [document] = list(yaml.safe_load_all(MANIFEST.read_text()))
    assert document["kind"] == "DaemonSet"
    return document


@pytest.fixture(scope="module")
def container(daemonset: dict) -> dict:
    [plugin] = daemonset["spec"]["template"]["spec"]["containers"]
    return plugin


def test_runs_only_on_gpu_nodes_despite_their_taint(daemonset: dict):
    pod = daemonset["spec"]["template"]["spec"]
    assert daemonset["metadata"]["namespace"] == "kube-system"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert daemonset["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert labels["app.kubernetes.io/name"] == "fake-gpu-plugin"


def test_names_its_image_by_repository_for_the_lock_to_fill_in(container: dict):
    """devenv.manifests puts in the built tag (the image is `kind load`ed, hence IfNotPresent)."""
    assert container["image"] == spec.load()["fake-gpu-plugin"].repository
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_its_environment_is_what_the_plugin_reads(
    daemonset: dict, container: dict, monkeypatch: pytest.MonkeyPatch
):
    for variable in container["env"]:
        monkeypatch.setenv(variable["name"], variable.get("value", "kind-worker"))
    settings = config.from_arguments(parse_arguments(container["args"]))
    assert settings.node_name == "kind-worker"
    assert settings.device_count == 4
    # Allocate names the nvidia-smi folder as a node path, so each folder must have the same
    # path inside the container as on the node.
    node_paths = {
        volume["name"]: volume["hostPath"]["path"]
        for volume in daemonset["spec"]["template"]["spec"]["volumes"]
    }
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    for folder in (
        settings.plugin_dir,
        settings.host_bin_dir,
        settings.pod_resources_socket.parent,
    ):
        assert node_paths[mounts[str(folder)]] == str(folder)


def test_probes_run_the_plugins_probe_command(container: dict):
    for probe in ("livenessProbe", "readinessProbe"):
        command = container[probe]["exec"]["command"]
        assert command[:3] == ["python3", "-m", "fake_gpu"]
        assert parse_arguments(command[3:]).command == "probe"
