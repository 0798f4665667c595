"""The local registry's configuration and the nodes' containerd configuration for it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tools import local_registry
from tools.images import registry


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JHK8S_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_config_stores_in_the_folder_and_listens_where_told() -> None:
    config = json.loads(local_registry.config("/var/lib/registry", ":5000"))
    assert config["storage"]["filesystem"] == {"rootdirectory": "/var/lib/registry"}
    assert config["http"]["addr"] == ":5000"
    assert "auth" not in config


@pytest.mark.parametrize("name", ["localhost:5001", "docker.io", "quay.io", "registry.k8s.io"])
def test_every_registry_a_node_resolves_is_the_local_registry_only(name: str) -> None:
    folder = local_registry.write_hosts_files()
    hosts = tomllib.loads((folder / name / "hosts.toml").read_text())
    # `server` is what containerd falls back to after the hosts: no upstream behind the mirror.
    assert hosts["server"] == "http://jupyterhub-k8s-registry:5000"
    assert hosts["host"] == {
        "http://jupyterhub-k8s-registry:5000": {"capabilities": ["pull", "resolve"]}
    }


def test_hosts_files_are_rewritten_when_they_differ(cache: Path) -> None:
    folder = local_registry.write_hosts_files()
    stale = folder / "docker.io" / "hosts.toml"
    stale.write_text('server = "https://registry-1.docker.io"\n')
    local_registry.write_hosts_files()
    assert "registry-1.docker.io" not in stale.read_text()
    assert folder == cache / "registry-config" / "certs.d"


def test_the_container_is_recreated_when_its_config_or_binary_changes(tmp_path: Path) -> None:
    binary = tmp_path / "registry"
    binary.write_bytes(b"v3.1.2")
    config = local_registry.config("/var/lib/registry", ":5000")
    before = local_registry.recipe(config, binary, "debian:bookworm-slim")
    assert local_registry.recipe(config, binary, "debian:bookworm-slim") == before
    assert local_registry.recipe(config.replace("info", "debug"), binary, "debian") != before
    binary.write_bytes(b"v3.1.3")
    assert local_registry.recipe(config, binary, "debian:bookworm-slim") != before


@pytest.mark.parametrize(
    ("upstream", "mirrored_as"),
    [
        # What containerd asks the docker.io mirror for: Docker Hub's `library/` path.
        ("debian", "localhost:5001/library/debian"),
        ("jupyterhub-k8s/hub", "localhost:5001/jupyterhub-k8s/hub"),
        ("registry.k8s.io/pause", "localhost:5001/pause"),
    ],
)
def test_upstream_names_are_pushed_where_the_mirror_looks(upstream: str, mirrored_as: str) -> None:
    assert registry.remote_name(local_registry.HOST_ENDPOINT, upstream) == mirrored_as
