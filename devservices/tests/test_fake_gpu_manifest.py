"""The plugin's DaemonSet agrees with the plugin: settings it passes, paths it mounts, its probe."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_gpu_nodes import A100_NODE, CONFIG_DIR, chart_layout

from devenv import charts, cluster
from fake_gpu import config
from fake_gpu.__main__ import parse_arguments

IMAGE = "jupyterhub-k8s/fake-gpu-plugin:0123456789ab"


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    """The plugin's chart as devenv.cluster installs it, with a locked image reference."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JHK8S_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        rendered = charts.render_documents(cluster.GPU_PLUGIN_CHART, {"image": IMAGE})
    return {(d["kind"], d["metadata"]["name"]): d for d in rendered}


@pytest.fixture(scope="module")
def daemonset(documents: dict[tuple[str, str], dict]) -> dict:
    return documents["DaemonSet", "fake-gpu-plugin"]


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
        monkeypatch.setenv(variable["name"], variable.get("value", A100_NODE))
    arguments = parse_arguments(container["args"])
    assert arguments.node_name == A100_NODE
    settings = config.from_arguments(arguments, chart_layout(A100_NODE))
    # Allocate names the nvidia-smi folder as a node path, so each folder must have the same
    # path inside the container as on the node.
    node_paths = {
        volume["name"]: volume["hostPath"]["path"]
        for volume in daemonset["spec"]["template"]["spec"]["volumes"]
        if "hostPath" in volume
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


def test_mounts_its_configmaps_where_it_reads_its_configs(
    documents: dict[tuple[str, str], dict], daemonset: dict, container: dict
):
    """Each ConfigMap holds the chart's files/<folder> and is mounted at <config dir>/<folder>."""
    config_dir = Path(
        next(v["value"] for v in container["env"] if v["name"] == "FAKE_GPU_CONFIG_DIR")
    )
    volumes = {v["name"]: v for v in daemonset["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    for folder in sorted(CONFIG_DIR.iterdir()):
        volume = mounts[str(config_dir / folder.name)]
        configmap = documents["ConfigMap", volume["configMap"]["name"]]
        assert configmap["data"] == {f.name: f.read_text() for f in folder.iterdir()}


def test_may_only_get_and_patch_nodes(documents: dict[tuple[str, str], dict], daemonset: dict):
    role = documents["ClusterRole", "fake-gpu-plugin"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}]
    binding = documents["ClusterRoleBinding", "fake-gpu-plugin"]
    account = daemonset["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": "default"}
    ]


def test_exposes_dcgm_exporters_metrics_port(daemonset: dict, container: dict):
    assert {
        "name": "metrics",
        "containerPort": config.METRICS_PORT,
        "protocol": "TCP",
    } in container["ports"]
    annotations = daemonset["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(config.METRICS_PORT)
