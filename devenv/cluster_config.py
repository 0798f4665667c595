"""The kind cluster's configuration, read once: devenv/kind/kind-config.yaml, the host ports of
devenv/kind/ports.yaml (validated by ports.schema.json) and the shared volume folder.

`current()` parses the files once per process and returns a frozen `ClusterConfig`; everything
else (the bring-up, the tests, the e2e suite) reads the cluster's name, context and ports from it.
Every node mounts the same host folder at SHARED_DIR_IN_NODE, standing in for a campus NFS
export: volumes provisioned there (and the course data folder of the chart's dev values) are the
same on every node, so a user's home follows them from a GPU lab to a CPU lab. Every node also
mounts the local registry's hosts.toml files (tools/local_registry.py) as containerd's registry
configuration, so it pulls only from that registry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from tools import local_registry
from tools.bootstrap.paths import cache_dir
from tools.kube import Kubectl

KIND_DIR = Path(__file__).resolve().parent / "kind"
KIND_CONFIG = KIND_DIR / "kind-config.yaml"
PORTS_FILE = KIND_DIR / "ports.yaml"
PORTS_SCHEMA = KIND_DIR / "ports.schema.json"
GPU_NODE_LABEL = "nvidia.com/gpu.present"
SHARED_DIR_IN_NODE = "/srv/jupyterhub-k8s-shared"
# Where the local-path provisioner creates volumes (its sharedFileSystemPath).
VOLUMES_DIR_IN_NODE = f"{SHARED_DIR_IN_NODE}/volumes"
# containerd's registry configuration: its config_path on every node.
REGISTRY_HOSTS_DIR_IN_NODE = "/etc/containerd/certs.d"


class ClusterConfigError(ValueError):
    """A configuration file of devenv/kind is invalid; the message says which and why."""


def load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ClusterConfigError(f"{path} is not valid YAML: {error}") from error


def read_host_ports(path: Path = PORTS_FILE) -> dict[str, int]:
    """The NodePort of each service a browser on the host reaches, by service name."""
    ports = load_yaml(path)
    try:
        jsonschema.validate(ports, json.loads(PORTS_SCHEMA.read_text()))
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ClusterConfigError(f"{path}: {where}: {error.message}; fix the file") from error
    return {name: entry["nodePort"] for name, entry in ports.items()}


def local_path_config() -> str:
    """The local-path provisioner's config.json: every volume in the shared folder, so that its
    PersistentVolumes carry no node affinity."""
    return json.dumps({"sharedFileSystemPath": VOLUMES_DIR_IN_NODE})


@dataclass(frozen=True)
class ClusterConfig:
    """What the cluster is: its name, the host ports, the shared folder and the kind
    configuration made of them."""

    name: str
    host_ports: Mapping[str, int]
    shared_dir: Path
    kind_config: Mapping[str, Any]
    """kind-config.yaml with a 127.0.0.1 port mapping per host port and the shared folder
    mounted on every node: what `kind create cluster --config` gets."""

    @property
    def context(self) -> str:
        """The kubeconfig context kind creates for the cluster."""
        return f"kind-{self.name}"

    @property
    def kubectl(self) -> Kubectl:
        return Kubectl(self.context)

    @property
    def recorded_config_file(self) -> Path:
        """The configuration the cluster was last created with (JSON is YAML)."""
        return cache_dir() / "kind-config.json"

    def write_kind_config(self) -> Path:
        """The kind configuration as a file for `kind create cluster --config`; it also records
        what the cluster is created with."""
        path = self.recorded_config_file
        path.write_text(json.dumps(self.kind_config, indent=2) + "\n")
        return path

    def changed_since_creation(self) -> bool:
        """True when kind-config.yaml, ports.yaml or the shared folder differ from what the
        cluster was created with (or that is unknown: a cluster created elsewhere)."""
        try:
            created = json.loads(self.recorded_config_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return True
        return created != self.kind_config


def load(kind_config_file: Path = KIND_CONFIG, ports_file: Path = PORTS_FILE) -> ClusterConfig:
    """Parse and validate the configuration files."""
    config = load_yaml(kind_config_file)
    ports = read_host_ports(ports_file)
    shared_dir = cache_dir() / "cluster-shared"
    control_plane = next(node for node in config["nodes"] if node["role"] == "control-plane")
    control_plane["extraPortMappings"] = [
        {"containerPort": port, "hostPort": port, "listenAddress": "127.0.0.1", "protocol": "TCP"}
        for port in ports.values()
    ]
    registry_hosts = {
        "hostPath": str(local_registry.hosts_dir()),
        "containerPath": REGISTRY_HOSTS_DIR_IN_NODE,
        "readOnly": True,
    }
    # The nodes pull only from the local registry: its hosts.toml files, as containerd's
    # registry configuration (https://github.com/containerd/containerd/blob/main/docs/hosts.md).
    config.setdefault("containerdConfigPatches", []).append(
        f'[plugins."io.containerd.grpc.v1.cri".registry]\n'
        f'  config_path = "{REGISTRY_HOSTS_DIR_IN_NODE}"\n'
    )
    for node in config["nodes"]:
        node["extraMounts"] = [
            {"hostPath": str(shared_dir), "containerPath": SHARED_DIR_IN_NODE},
            registry_hosts,
        ]
    return ClusterConfig(config["name"], MappingProxyType(ports), shared_dir, config)


@cache
def current() -> ClusterConfig:
    """The configuration of the repo's cluster, read once per process."""
    return load()
