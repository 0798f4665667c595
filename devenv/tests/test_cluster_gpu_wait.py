"""`up` waits until each GPU node advertises what its NVIDIA-format configs give it."""

from __future__ import annotations

import pytest

from devenv import cluster
from fake_gpu.gfd_labels import gfd_labels

CONFIG_LABELS = {
    "nvidia.com/gpu.present": "true",
    "nvidia.com/device-plugin.config": "a100-mig-mixed",
    "nvidia.com/mig.config": "a100-last-gpu-1g.10gb",
}


def node(labels: dict[str, str], allocatable: dict[str, str]) -> dict:
    return {
        "metadata": {"name": "jupyterhub-k8s-worker", "labels": labels},
        "status": {"allocatable": allocatable},
    }


def test_a_node_without_its_resources_or_labels_is_not_ready():
    problems = cluster.gpu_node_problems(node(CONFIG_LABELS, {"cpu": "4"}))
    assert "jupyterhub-k8s-worker: nvidia.com/gpu absent (wanted 2)" in problems
    assert "jupyterhub-k8s-worker: nvidia.com/mig-1g.10gb absent (wanted 7)" in problems
    assert any("label nvidia.com/mig.strategy=(absent) (wanted mixed)" in p for p in problems)


def test_a_node_with_both_is_ready():
    bare = node(CONFIG_LABELS, {})
    layout = cluster.expected_layout(bare)
    allocatable = {r.name: str(len(r.devices)) for r in layout.resources}
    assert cluster.gpu_node_problems(node(CONFIG_LABELS | gfd_labels(layout), allocatable)) == []


def test_a_node_naming_an_unknown_config_is_a_clear_error():
    labels = CONFIG_LABELS | {"nvidia.com/device-plugin.config": "h100"}
    with pytest.raises(
        cluster.ClusterError, match=r"GPU node jupyterhub-k8s-worker: .*no config 'h100'"
    ):
        cluster.gpu_node_problems(node(labels, {}))
