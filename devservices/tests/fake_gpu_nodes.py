"""The dev cluster's GPU nodes as the plugin sees them: the chart's NVIDIA-format configs, picked
by each node's labels in kind-config.yaml, so tests derive their figures from the real files."""

from __future__ import annotations

from pathlib import Path

import yaml

from fake_gpu.layout import NodeLayout
from fake_gpu.node_setup import layout_from_labels
from tools.bootstrap.paths import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "devenv" / "kind" / "fake-gpu-plugin" / "files"
KIND_CONFIG = REPO_ROOT / "devenv" / "kind" / "kind-config.yaml"
A100_NODE = "jupyterhub-k8s-worker"
T4_NODE = "jupyterhub-k8s-worker2"


def node_labels() -> dict[str, dict[str, str]]:
    """kind's node names (`<cluster>-worker`, `-worker2`, ...) -> the labels kind-config sets."""
    config = yaml.safe_load(KIND_CONFIG.read_text())
    workers = [node for node in config["nodes"] if node["role"] == "worker"]
    names = [
        f"{config['name']}-worker{number + 1 if number else ''}" for number in range(len(workers))
    ]
    return {name: node.get("labels", {}) for name, node in zip(names, workers, strict=True)}


def chart_layout(node: str, config_dir: Path = CONFIG_DIR) -> NodeLayout:
    return layout_from_labels(config_dir, node, node_labels()[node])
