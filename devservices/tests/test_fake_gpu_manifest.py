"""The plugin's DaemonSet agrees with the plugin: settings it passes, paths it mounts, its probe."""

from __future__ import annotations

import pytest

from devenv import charts, cluster
from fake_gpu import config
from fake_gpu.__main__ import parse_arguments

IMAGE = "jupyterhub-k8s/fake-gpu-plugin:0123456789ab"


@pytest.fixture(scope="module")
def daemonset(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The plugin's chart as devenv.cluster installs it, with a locked image reference."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JHK8S_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        [document] = charts.render_documents(cluster.GPU_PLUGIN_CHART, {"image": IMAGE})
    assert document["kind"] == "DaemonSet"
    return document


@pytest.fixture(scope="module")
def container(daemonset: dict) -> dict:
    [plugin] = daemonset["spec"]["template"]["spec"]["containers"]
    return plugin


def test_runs_only_on_gpu_nodes_despite_their_taint(daemonset: dict):
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert daemonset["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert labels["app.kubernetes.io/name"] == "fake-gpu-plugin"


def test_runs_the_image_it_is_given(container: dict):
    """devenv.cluster passes the pushed digest (pulled once from the local registry)."""
    assert container["image"] == IMAGE
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
