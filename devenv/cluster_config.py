"""The kind cluster's configuration: devenv/kind/kind-config.yaml plus the host ports and the
shared volume folder.

The ports live in one data file, devenv/kind/ports.yaml (validated by ports.schema.json), which
the chart's dev values and the e2e tests read too. Every node mounts the same host folder at
SHARED_DIR_IN_NODE, standing in for a campus NFS export: volumes provisioned there (and the course
data folder of the chart's dev values) are the same on every node, so a user's home follows them
from a GPU lab to a CPU lab. Needs PyYAML and jsonschema (project dependencies); imported lazily
so that the noxfile can import devenv without them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.bootstrap.paths import cache_dir

KIND_DIR = Path(__file__).resolve().parent / "kind"
KIND_CONFIG = KIND_DIR / "kind-config.yaml"
PORTS_FILE = KIND_DIR / "ports.yaml"
PORTS_SCHEMA = KIND_DIR / "ports.schema.json"
GPU_NODE_LABEL = "nvidia.com/gpu.present"
SHARED_DIR_IN_NODE = "/srv/jupyterhub-k8s-shared"
# Where the local-path provisioner creates volumes (its sharedFileSystemPath).
VOLUMES_DIR_IN_NODE = f"{SHARED_DIR_IN_NODE}/volumes"


class ClusterConfigError(ValueError):
    """A configuration file of devenv/kind is invalid; the message says which and why."""


def load_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ClusterConfigError(f"{path} is not valid YAML: {error}") from error


def host_ports(path: Path = PORTS_FILE) -> dict[str, int]:
    """The NodePort of each service a browser on the host reaches, by service name."""
    import jsonschema

    ports = load_yaml(path)
    try:
        jsonschema.validate(ports, json.loads(PORTS_SCHEMA.read_text()))
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ClusterConfigError(f"{path}: {where}: {error.message}; fix the file") from error
    return {name: entry["nodePort"] for name, entry in ports.items()}


def shared_dir() -> Path:
    """The host folder every node mounts at SHARED_DIR_IN_NODE (dev data: deleted with the
    cluster)."""
    return cache_dir() / "cluster-shared"


def kind_config() -> dict[str, Any]:
    """kind-config.yaml with a 127.0.0.1 port mapping per entry of ports.yaml and the shared
    folder mounted on every node."""
    config = load_yaml(KIND_CONFIG)
    control_plane = next(node for node in config["nodes"] if node["role"] == "control-plane")
    control_plane["extraPortMappings"] = [
        {"containerPort": port, "hostPort": port, "listenAddress": "127.0.0.1", "protocol": "TCP"}
        for port in host_ports().values()
    ]
    for node in config["nodes"]:
        node["extraMounts"] = [{"hostPath": str(shared_dir()), "containerPath": SHARED_DIR_IN_NODE}]
    return config


def local_path_config() -> str:
    """The local-path provisioner's config.json: every volume in the shared folder, so that its
    PersistentVolumes carry no node affinity."""
    return json.dumps({"sharedFileSystemPath": VOLUMES_DIR_IN_NODE})


def cluster_name() -> str:
    return load_yaml(KIND_CONFIG)["name"]


def kube_context() -> str:
    """The kubeconfig context kind creates for the cluster."""
    return f"kind-{cluster_name()}"


def kind_config_file() -> Path:
    """The configuration the cluster was last created with (JSON is YAML)."""
    return cache_dir() / "kind-config.json"


def write_kind_config() -> Path:
    """The full kind configuration as a file for `kind create cluster --config`."""
    path = kind_config_file()
    path.write_text(json.dumps(kind_config(), indent=2) + "\n")
    return path


def config_changed_since_creation() -> bool:
    """True when kind-config.yaml, ports.yaml or the shared folder differ from what the cluster
    was created with (or that is unknown: a cluster created elsewhere)."""
    try:
        created = json.loads(kind_config_file().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return True
    return created != kind_config()
