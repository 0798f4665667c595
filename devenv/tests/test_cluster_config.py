"""The kind configuration devenv.cluster creates the cluster with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devenv import cluster_config


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JHK8S_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_every_node_mounts_the_shared_folder_and_the_registry_hosts(cache: Path) -> None:
    config = cluster_config.load().kind_config
    # The control plane and the GPU workers of kind-config.yaml.
    assert [node["role"] for node in config["nodes"]] == ["control-plane", "worker", "worker"]
    for node in config["nodes"]:
        assert node["extraMounts"] == [
            {
                "hostPath": str(cache / "cluster-shared"),
                "containerPath": "/srv/jupyterhub-k8s-shared",
            },
            {
                "hostPath": str(cache / "registry-config" / "certs.d"),
                "containerPath": "/etc/containerd/certs.d",
                "readOnly": True,
            },
        ]


def test_containerd_reads_the_mounted_registry_hosts() -> None:
    (patch,) = cluster_config.load().kind_config["containerdConfigPatches"]
    assert patch == (
        '[plugins."io.containerd.grpc.v1.cri".registry]\n'
        '  config_path = "/etc/containerd/certs.d"\n'
    )


def test_only_the_control_plane_maps_the_host_ports() -> None:
    nodes = {node["role"]: node for node in cluster_config.load().kind_config["nodes"]}
    mapped = {m["hostPort"] for m in nodes["control-plane"]["extraPortMappings"]}
    assert mapped == set(cluster_config.read_host_ports().values())
    assert "extraPortMappings" not in nodes["worker"]


def test_volumes_are_provisioned_in_the_shared_folder() -> None:
    config = json.loads(cluster_config.local_path_config())
    # sharedFileSystemPath and nodePathMap exclude each other in the provisioner.
    assert config == {"sharedFileSystemPath": "/srv/jupyterhub-k8s-shared/volumes"}


def test_a_config_change_since_creation_is_noticed(cache: Path) -> None:
    config = cluster_config.load()
    assert config.changed_since_creation(), "no record: unknown counts as changed"
    config.write_kind_config()
    assert not config.changed_since_creation()

    recorded = json.loads(config.recorded_config_file.read_text())
    del recorded["nodes"][1]["extraMounts"]
    config.recorded_config_file.write_text(json.dumps(recorded))
    assert config.changed_since_creation()


def test_the_files_are_read_once_per_process() -> None:
    assert cluster_config.current() is cluster_config.current()
    assert cluster_config.current().context == f"kind-{cluster_config.current().name}"
