"""The kind cluster's configuration: dev/cluster/kind-config.yaml plus the host ports.

The ports live in one data file, dev/cluster/ports.yaml (validated by ports.schema.json), which
the chart's dev values and the e2e tests read too. Needs PyYAML and jsonschema (project
dependencies); imported lazily so that the noxfile can import devenv without them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devenv.paths import REPO_ROOT, cache_dir

CLUSTER_DIR = REPO_ROOT / "dev" / "cluster"
KIND_CONFIG = CLUSTER_DIR / "kind-config.yaml"
PORTS_FILE = CLUSTER_DIR / "ports.yaml"
PORTS_SCHEMA = CLUSTER_DIR / "ports.schema.json"
GPU_NODE_LABEL = "nvidia.com/gpu.present"


class ClusterConfigError(ValueError):
    """A configuration file of dev/cluster is invalid; the message says which and why."""


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


def kind_config() -> dict[str, Any]:
    """kind-config.yaml with a 127.0.0.1 port mapping per entry of ports.yaml."""
    config = load_yaml(KIND_CONFIG)
    control_plane = next(node for node in config["nodes"] if node["role"] == "control-plane")
    control_plane["extraPortMappings"] = [
        {"containerPort": port, "hostPort": port, "listenAddress": "127.0.0.1", "protocol": "TCP"}
        for port in host_ports().values()
    ]
    return config


def cluster_name() -> str:
    return load_yaml(KIND_CONFIG)["name"]


def kube_context() -> str:
    """The kubeconfig context kind creates for the cluster."""
    return f"kind-{cluster_name()}"


def write_kind_config() -> Path:
    """The full kind configuration as a file for `kind create cluster --config` (JSON is YAML)."""
    path = cache_dir() / "kind-config.json"
    path.write_text(json.dumps(kind_config(), indent=2) + "\n")
    return path
