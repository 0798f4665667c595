"""This node's layout from the config folder, picked as NVIDIA picks it: the node label
`nvidia.com/device-plugin.config` names the device-plugin config (a key of the plugin's
ConfigMap) and `nvidia.com/mig.config` the mig-parted config; the fake hardware file says which
GPUs the node has.

    <config dir>/device-plugin/<name>     k8s-device-plugin config files, one per name
    <config dir>/mig-parted/config.yaml   the mig-parted config (`mig-configs`)
    <config dir>/hardware/hardware.yaml   fake-only: node name -> {model, count}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fake_gpu.errors import ConfigError
from fake_gpu.hardware import parse_hardware
from fake_gpu.layout import NodeLayout, node_layout
from fake_gpu.nvidia_config import (
    DevicePluginConfig,
    MigGpuLayout,
    parse_device_plugin_config,
    parse_mig_config,
)

PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
# NVIDIA's defaults when a node has no label: the plugin's `default` config, mig-parted's
# `all-disabled`.
DEFAULT_PLUGIN_CONFIG = "default"
DEFAULT_MIG_CONFIG = "all-disabled"
CONFIG_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,62})")


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: no such file") from error
    except yaml.YAMLError as error:
        problem = str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML ({problem})") from error


def _config_name(name: str, label: str) -> str:
    if not CONFIG_NAME.fullmatch(name):
        raise ConfigError(f"node label {label}: {name!r} is not a config name")
    return name


def plugin_config(config_dir: Path, name: str | None) -> DevicePluginConfig:
    folder = config_dir / "device-plugin"
    if name is None:
        if not (folder / DEFAULT_PLUGIN_CONFIG).exists():
            return DevicePluginConfig()
        name = DEFAULT_PLUGIN_CONFIG
    path = folder / _config_name(name, PLUGIN_CONFIG_LABEL)
    if not path.exists():
        known = sorted(entry.name for entry in folder.glob("*") if not entry.name.startswith("."))
        raise ConfigError(f"node label {PLUGIN_CONFIG_LABEL}: no config {name!r} (has {known})")
    return parse_device_plugin_config(read_yaml(path), str(path))


def load_layout(
    config_dir: Path, node_name: str, plugin_config_name: str | None, mig_config_name: str | None
) -> NodeLayout:
    hardware_file = config_dir / "hardware" / "hardware.yaml"
    hardware = parse_hardware(read_yaml(hardware_file), node_name, str(hardware_file))
    config = plugin_config(config_dir, plugin_config_name)
    mig_file = config_dir / "mig-parted" / "config.yaml"
    if mig_config_name is None and not mig_file.exists():
        mig = (MigGpuLayout(False, ()),) * hardware.count
    else:
        name = _config_name(mig_config_name or DEFAULT_MIG_CONFIG, MIG_CONFIG_LABEL)
        mig = parse_mig_config(
            read_yaml(mig_file), str(mig_file), name, hardware.model, hardware.count
        )
    return node_layout(node_name, hardware, config, mig)


def layout_from_labels(config_dir: Path, node_name: str, labels: dict[str, str]) -> NodeLayout:
    return load_layout(
        config_dir, node_name, labels.get(PLUGIN_CONFIG_LABEL), labels.get(MIG_CONFIG_LABEL)
    )
