"""Unit tests of the cluster's configuration and the Go build helpers (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devenv import charts, cluster, cluster_config, node_image
from tools import gobuild


def test_staging_modules_are_read_from_the_kubernetes_go_mod(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text(
        "module k8s.io/kubernetes\n\nreplace (\n"
        "\tk8s.io/api => ./staging/src/k8s.io/api\n"
        "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
        "\tgithub.com/other/thing => github.com/fork/thing v1.0.0\n)\n"
    )
    assert gobuild.staging_modules(tmp_path) == ["k8s.io/api", "k8s.io/client-go"]


def test_staging_modules_are_published_as_v0_minor_patch() -> None:
    assert gobuild.staging_version("v1.34.4") == "v0.34.4"
    with pytest.raises(gobuild.GoBuildError, match=r"v1\.X\.Y"):
        gobuild.staging_version("1.34")


def test_the_wrapper_module_requires_the_module_and_replaces_by_version() -> None:
    text = gobuild.wrapper_go_mod(
        "k8s.io/kubernetes", "v1.34.4", {"k8s.io/api": "k8s.io/api v0.34.4"}, "1.24.0"
    )
    assert "require k8s.io/kubernetes v1.34.4\n" in text
    assert "\tk8s.io/api => k8s.io/api v0.34.4\n" in text
    assert "replace" not in gobuild.wrapper_go_mod("example.com/m", "v1.0.0", {}, "1.22")


def test_version_ldflags_make_kubernetes_report_the_pin() -> None:
    flags = gobuild.version_ldflags("v1.34.4")
    for package in gobuild.VERSION_PACKAGES:
        assert f"-X {package}.gitVersion=v1.34.4" in flags
        assert f"-X {package}.gitMinor=34" in flags


def test_ports_file_is_valid_and_every_port_is_mapped_on_localhost() -> None:
    ports = cluster_config.read_host_ports()
    assert {"hub", "keycloak"} <= set(ports)
    config = cluster_config.load().kind_config
    control_plane = next(node for node in config["nodes"] if node["role"] == "control-plane")
    mapped = {m["hostPort"]: m for m in control_plane["extraPortMappings"]}
    assert set(mapped) == set(ports.values())
    assert all(m["listenAddress"] == "127.0.0.1" for m in mapped.values())


def test_every_gpu_worker_is_labelled_tainted_and_names_its_nvidia_configs() -> None:
    config = cluster_config.load().kind_config
    workers = [node for node in config["nodes"] if node["role"] == "worker"]
    assert len(workers) == 2
    for worker in workers:
        assert worker["labels"][cluster_config.GPU_NODE_LABEL] == "true"
        assert "key: nvidia.com/gpu" in worker["kubeadmConfigPatches"][0]
        assert "effect: NoSchedule" in worker["kubeadmConfigPatches"][0]
        plugin_config = worker["labels"]["nvidia.com/device-plugin.config"]
        assert (cluster.GPU_PLUGIN_FILES / "device-plugin" / plugin_config).is_file()
        mig_configs = yaml.safe_load(
            (cluster.GPU_PLUGIN_FILES / "mig-parted" / "config.yaml").read_text()
        )
        assert worker["labels"]["nvidia.com/mig.config"] in mig_configs["mig-configs"]


def test_a_bad_ports_file_gets_a_message_naming_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "ports.yaml"
    bad.write_text("hub:\n  nodePort: 80\n")
    with pytest.raises(cluster_config.ClusterConfigError, match="hub/nodePort"):
        cluster_config.read_host_ports(bad)


def test_kinds_manifests_run_the_images_the_node_preloads(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JHK8S_CACHE_DIR", str(tmp_path))
    values = node_image.manifest_values()
    images = set()
    texts = []
    for name in node_image.MANIFESTS:
        texts.append(charts.render(node_image.NODE_MANIFESTS_CHART, values, template=name))
        for document in yaml.safe_load_all(texts[-1]):
            spec = (document or {}).get("spec", {}).get("template", {}).get("spec", {})
            images |= {container["image"] for container in spec.get("containers", [])}
    assert images == {values["images"]["kubeRouter"], values["images"]["localPathProvisioner"]}
    # The provisioner's helper pods run the Debian image (its flag and helperPod.yaml).
    assert texts[1].count(f'"{values["images"]["helper"]}"') == 2


def test_the_node_image_is_hashed_from_its_folder_the_manifests_and_the_pins() -> None:
    image = node_image.node_local_image()
    assert "node/Dockerfile" in image.files
    assert {f"node-manifests/templates/{name}" for name in node_image.MANIFESTS} <= set(image.files)
    assert set(image.pins) == set(node_image.NODE_PINS)
    assert image.tag is None, "tagged with its content hash, like the images of images.toml"
