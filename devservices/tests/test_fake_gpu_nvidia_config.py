"""NVIDIA's config formats as the plugin reads them, and the one-line errors bad ones get."""

from __future__ import annotations

import pytest
from fake_gpu_nodes import A100_NODE, CONFIG_DIR, T4_NODE, chart_layout

from fake_gpu.errors import ConfigError
from fake_gpu.hardware import MODELS, NodeHardware, parse_hardware
from fake_gpu.layout import node_layout
from fake_gpu.node_setup import load_layout, read_yaml
from fake_gpu.nvidia_config import (
    MigGpuLayout,
    parse_device_plugin_config,
    parse_mig_config,
)

A100 = MODELS["NVIDIA A100-SXM4-80GB"]
T4 = MODELS["Tesla T4"]


def sliced(**time_slicing) -> dict:
    return {"version": "v1", "sharing": {"timeSlicing": time_slicing}}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": "v2"}, "version: must be v1, got 'v2'"),
        ({"version": "v1", "flags": {"migStrategy": "auto"}}, "flags.migStrategy: must be one of"),
        ({"version": "v1", "flgs": {}}, "unknown key 'flgs'"),
        (sliced(resources=[{"name": "nvidia.com/gpu", "replicas": 0}]), "replicas: must be"),
        (sliced(resources=[{"name": "nvidia.com/gpu", "replicas": True}]), "replicas: must be"),
        (sliced(resources=[{"name": "example.com/gpu", "replicas": 2}]), "resources[0].name"),
        (
            sliced(resources=[{"name": "nvidia.com/gpu", "replicas": 2, "devices": ["x"]}]),
            "devices",
        ),
        (sliced(renameByDefault="yes", resources=[]), "renameByDefault: must be true or false"),
        (
            sliced(resources=[{"name": "nvidia.com/gpu", "replicas": 2}] * 2),
            "nvidia.com/gpu is listed twice",
        ),
        ("just text", "must be a mapping"),
    ],
)
def test_bad_device_plugin_configs_are_refused_by_key(document, message: str):
    with pytest.raises(ConfigError) as refused:
        parse_device_plugin_config(document, "cfg")
    assert message in str(refused.value)
    assert str(refused.value).startswith("cfg")
    assert "\n" not in str(refused.value)


def mig(*entries: dict) -> dict:
    return {"version": "v1", "mig-configs": {"custom": list(entries)}}


@pytest.mark.parametrize(
    ("document", "model", "message"),
    [
        (
            mig({"devices": "all", "mig-enabled": True, "mig-devices": {"1g.5gb": 7}}),
            A100,
            "unknown MIG profile '1g.5gb' for NVIDIA A100-SXM4-80GB",
        ),
        (mig({"devices": "all", "mig-enabled": True}), T4, "Tesla T4 has no MIG"),
        (
            mig({"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 8}}),
            A100,
            "needs 8 compute and 8 memory slices",
        ),
        (
            mig({"devices": "all", "mig-enabled": False, "mig-devices": {"1g.10gb": 1}}),
            A100,
            "needs mig-enabled: true",
        ),
        (mig({"devices": [5], "mig-enabled": False}), A100, "GPU 5 does not exist"),
        (mig({"devices": "all", "mig-enabled": "no"}), A100, "mig-enabled: must be true or false"),
        (
            mig({"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": -1}}),
            A100,
            "must be a count",
        ),
        ({"version": "v1", "mig-configs": {}}, A100, "no config named 'custom'"),
    ],
)
def test_bad_mig_configs_are_refused_by_key(document, model, message: str):
    with pytest.raises(ConfigError) as refused:
        parse_mig_config(document, "mig.yaml", "custom", model, 3)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"n": {"model": "GeForce 256", "count": 1}}, "unknown model 'GeForce 256'"),
        ({"n": {"model": "Tesla T4", "count": 0}}, "n.count: must be 1 to 16"),
        ({"n": {"model": "Tesla T4", "count": 1, "memory": 1}}, "must be {model, count}"),
        ({"other": {"model": "Tesla T4", "count": 1}}, "no entry for node 'n'"),
    ],
)
def test_bad_hardware_is_refused_by_key(document, message: str):
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_hardware(document, "n", "hardware.yaml")


def test_single_strategy_needs_one_profile_on_every_gpu():
    config = parse_device_plugin_config({"version": "v1", "flags": {"migStrategy": "single"}}, "c")
    layouts = (MigGpuLayout(False, ()), MigGpuLayout(True, ("1g.10gb",) * 7))
    with pytest.raises(ConfigError, match="single needs every GPU MIG-enabled"):
        node_layout("n", NodeHardware(A100, 2), config, layouts)
    [resource] = node_layout("n", NodeHardware(A100, 1), config, layouts[1:]).resources
    assert resource.name == "nvidia.com/gpu"
    assert len(resource.devices) == 7
    assert all(device.mig for device in resource.devices)


def test_rename_by_default_and_rename_name_the_replicas():
    hardware = NodeHardware(T4, 2)
    disabled = (MigGpuLayout(False, ()),) * 2
    entry = {"name": "nvidia.com/gpu", "replicas": 2}
    by_default = parse_device_plugin_config(sliced(renameByDefault=True, resources=[entry]), "c")
    [resource] = node_layout("n", hardware, by_default, disabled).resources
    assert (resource.name, len(resource.devices)) == ("nvidia.com/gpu.shared", 4)
    renamed = parse_device_plugin_config(
        sliced(resources=[entry | {"rename": "nvidia.com/t4-share", "devices": ["1"]}]), "c"
    )
    resources = {r.name: r for r in node_layout("n", hardware, renamed, disabled).resources}
    assert [d.id for d in resources["nvidia.com/gpu"].devices] == [
        node_layout("n", hardware, by_default, disabled).gpus[0].id
    ]
    assert len(resources["nvidia.com/t4-share"].devices) == 2


def test_sharing_a_resource_the_node_lacks_is_refused():
    config = parse_device_plugin_config(
        sliced(resources=[{"name": "nvidia.com/mig-1g.10gb", "replicas": 2}]), "c"
    )
    with pytest.raises(
        ConfigError, match=r"nvidia\.com/mig-1g\.10gb is not a resource of this node"
    ):
        node_layout("n", NodeHardware(T4, 1), config, (MigGpuLayout(False, ()),))


def test_the_dev_clusters_configs_give_each_node_its_resources():
    a100 = chart_layout(A100_NODE)
    mig_enabled = [layout.mig_enabled for layout in a100.mig]
    resources = {r.name: len(r.devices) for r in a100.resources}
    assert resources == {
        "nvidia.com/gpu": mig_enabled.count(False),
        "nvidia.com/mig-1g.10gb": sum(len(layout.slices) for layout in a100.mig),
    }
    assert a100.plugin_config.mig_strategy == "mixed"
    t4 = chart_layout(T4_NODE)
    [shared] = t4.resources
    assert shared.name == "nvidia.com/gpu"
    assert len(shared.devices) == len(t4.gpus) * shared.replicas > len(t4.gpus)


def test_a_missing_config_name_or_bad_yaml_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"no config 'h100' \(has \['a100-mig-mixed'"):
        load_layout(CONFIG_DIR, A100_NODE, "h100", None)
    with pytest.raises(ConfigError, match="is not a config name"):
        load_layout(CONFIG_DIR, A100_NODE, "../hardware/hardware.yaml", None)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [v1\n")
    with pytest.raises(ConfigError, match="not valid YAML") as refused:
        read_yaml(bad)
    assert "\n" not in str(refused.value)
