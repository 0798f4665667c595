"""The local kind cluster with fake-GPU nodes: `up` creates it, `down` deletes it.

Both are idempotent. `up` runs its steps in order over one `ClusterConfig` (read once): the
prerequisites (Docker, Go), the pinned tools, the node image, the cluster, the local registry
its nodes pull from (tools/local_registry.py), the images it needs (pushed there) and the fake
GPU device plugin, and returns once every GPU node advertises the resources and carries the GFD
labels its NVIDIA-format configs (devenv/kind/fake-gpu-plugin/files) give it.

CLI: `python -m devenv.cluster up|down`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from devenv import charts, cluster_config, commands, node_image
from devenv.cluster_config import ClusterConfig
from fake_gpu.errors import ConfigError
from fake_gpu.gfd_labels import gfd_labels
from fake_gpu.layout import NodeLayout
from fake_gpu.node_setup import layout_from_labels
from tools import binaries, docker, local_registry
from tools.bootstrap import dockerd, prerequisites
from tools.bootstrap.paths import logs_dir
from tools.bootstrap.progress import say, step
from tools.bootstrap.run import RunError, run
from tools.images import build, lock, registry, spec
from tools.images.registry import RegistryError

GPU_PLUGIN = "fake-gpu-plugin"  # its entry in images/images.toml
GPU_PLUGIN_CHART = cluster_config.KIND_DIR / "fake-gpu-plugin"
# The plugin's configs (NVIDIA's formats) and fake hardware, as its ConfigMaps hold them.
GPU_PLUGIN_FILES = GPU_PLUGIN_CHART / "files"
GPU_WAIT_S = 180
NODES_READY_WAIT_S = 300
POD_NETWORK_WAIT_S = 30
POD_SUBNETS_SET = "kube-router-pod-subnets"  # kube-router's ipset of every node's podCIDR
# CoreDNS and the local-path provisioner, which kind installs.
LOCAL_PATH_NAMESPACE = "local-path-storage"
SYSTEM_NAMESPACES = ("kube-system", LOCAL_PATH_NAMESPACE)
# kind gives a new node 30 s to log that systemd has booted and fails the create otherwise, which
# a loaded 2-core machine overran once (kubernetes-sigs/kind#2460): then the create runs again.
SLOW_NODE_BOOT = "could not find a log line that matches"
CREATE_ATTEMPTS = 2


class ClusterError(RuntimeError):
    """A step of bringing the cluster up or down failed; the message says which and why."""


def kind(*args: str | Path, log: Path | None = None, timeout: float | None = None) -> str:
    """The pinned kind, with the runner (RunError on failure)."""
    return run([binaries.ensure("kind"), *args], log=log, timeout=timeout)


def cluster_exists(config: ClusterConfig) -> bool:
    return config.name in kind("get", "clusters").split()


def node_containers(config: ClusterConfig) -> list[str]:
    """The Docker containers that are this cluster's nodes."""
    return kind("get", "nodes", "--name", config.name).split()


def cluster_answers(config: ClusterConfig) -> bool:
    """True when every node container runs and the API server reports ready.

    A cluster outlives the dockerd that ran it only as stopped containers (a reboot, or a CI run
    after the session that created it); kind cannot resume those reliably, so they are recreated.
    """
    for node in node_containers(config):
        if docker.docker("inspect", "-f", "{{.State.Running}}", node).strip() != "true":
            return False
    return config.kubectl.answers()


def clear_shared_dir(config: ClusterConfig, image: str) -> None:
    """Empty the folder the nodes share: its volumes belonged to a cluster that is gone.

    Pods wrote it as root and as their own users, so a container removes the files (the caller
    may not be root); the image is one that is there already.
    """
    folder = config.shared_dir
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        return
    docker.docker(
        "run", "--rm", "--entrypoint", "find", "-v", f"{folder}:/shared", image,
        "/shared", "-mindepth", "1", "-delete",
    )  # fmt: skip


def create_cluster(config: ClusterConfig, image: str) -> None:
    if cluster_exists(config):
        if not cluster_answers(config):
            say(f"    cluster {config.name}: exists but does not answer (stopped?); recreating")
        elif config.changed_since_creation():
            say(
                f"    cluster {config.name}: its configuration changed since it was created "
                "(devenv/kind/kind-config.yaml, ports.yaml); recreating it"
            )
        else:
            say(f"    cluster {config.name}: exists")
            return
        kind("delete", "cluster", "--name", config.name)
    clear_shared_dir(config, image)
    local_registry.write_hosts_files()
    log = logs_dir() / f"kind-create-{config.name}.log"
    log.write_text("")
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            kind(
                "create", "cluster", "--config", config.write_kind_config(), "--image", image,
                log=log,
            )  # fmt: skip
            return
        except RunError as error:
            kind("delete", "cluster", "--name", config.name)
            if SLOW_NODE_BOOT not in error.output_tail or attempt == CREATE_ATTEMPTS:
                raise ClusterError(
                    f"{error}\nThe nodes were deleted (run kind by hand with --retain to keep "
                    "them)."
                ) from error
            say(f"    cluster {config.name}: a node booted slower than kind waits; once more")


def wait_for_nodes_ready(config: ClusterConfig) -> None:
    """Nodes Ready, then the cluster's own Deployments (DNS, storage) Available."""
    config.kubectl.wait("Ready", NODES_READY_WAIT_S, "nodes", "--all")
    for namespace in SYSTEM_NAMESPACES:
        config.kubectl.in_namespace(namespace).wait(
            "Available", NODES_READY_WAIT_S, "deployments", "--all"
        )


def pod_subnets_missing(config: ClusterConfig) -> dict[str, list[str]]:
    """Per node, the pod subnets its kube-router does not know.

    kube-router masquerades pod traffic to any address outside its `kube-router-pod-subnets` set;
    a node that started before another node got its podCIDR may never add it (seen with v2.1.0),
    and then traffic from its pods to that node's pods arrives from the node's address, which
    NetworkPolicies that allow pods (the hub reaching a lab) drop.
    """
    nodes = config.kubectl.get("nodes")["items"]
    subnets = {node["spec"]["podCIDR"] for node in nodes if node["spec"].get("podCIDR")}
    missing = {}
    for node in node_containers(config):
        try:
            listed = docker.docker("exec", node, "ipset", "list", POD_SUBNETS_SET)
        except RunError:
            listed = ""  # kube-router has not made the set yet
        known = {line.split()[0] for line in listed.splitlines() if line[:1].isdigit()}
        if subnets - known:
            missing[node] = sorted(subnets - known)
    return missing


def wait_for_pod_subnets(config: ClusterConfig) -> dict[str, list[str]]:
    """Poll until every node knows every pod subnet (kube-router fills its sets after it starts);
    return what is still missing at the deadline."""
    deadline = time.monotonic() + POD_NETWORK_WAIT_S
    while (missing := pod_subnets_missing(config)) and time.monotonic() < deadline:
        time.sleep(2)
    return missing


def restart_rollout(config: ClusterConfig, resource: str, namespace: str) -> None:
    """Replace the pods of a Deployment or DaemonSet and wait until the new ones are ready."""
    kubectl = config.kubectl.in_namespace(namespace)
    kubectl("rollout", "restart", resource)
    kubectl.rollout_status(resource, NODES_READY_WAIT_S)


def ensure_pod_network(config: ClusterConfig) -> None:
    """Every node's kube-router knows every pod subnet; restart kube-router once if not."""
    missing = wait_for_pod_subnets(config)
    if missing:
        say(
            f"    kube-router lacks pod subnets {missing} (it started before they existed); "
            "restarting it"
        )
        restart_rollout(config, "daemonset/kube-router", "kube-system")
        missing = wait_for_pod_subnets(config)
    if missing:
        raise ClusterError(
            f"kube-router still lacks pod subnets {missing}; see "
            "`kubectl -n kube-system logs -l app.kubernetes.io/name=kube-router`"
        )
    say("    every node routes every pod subnet without masquerading")


def use_shared_volumes(config: ClusterConfig) -> None:
    """Point the local-path provisioner at the shared folder (kind's default is a folder per
    node, whose volumes bind a pod to that node) and restart it when that changed anything."""
    kubectl = config.kubectl.in_namespace(LOCAL_PATH_NAMESPACE)
    wanted = cluster_config.local_path_config()
    if kubectl.get("configmap", "local-path-config")["data"].get("config.json") != wanted:
        patch = json.dumps({"data": {"config.json": wanted}})
        kubectl("patch", "configmap", "local-path-config", "--type", "merge", "-p", patch)
        restart_rollout(config, "deployment/local-path-provisioner", LOCAL_PATH_NAMESPACE)
    say(f"    volumes in {cluster_config.VOLUMES_DIR_IN_NODE} (shared by every node)")


def start_registry() -> str:
    """The local registry's container on kind's network (tools/local_registry.py)."""
    try:
        endpoint = local_registry.ensure_running()
    except (local_registry.RegistryNotReady, RunError) as error:
        raise ClusterError(f"starting the local registry failed: {error}") from error
    say(f"    {local_registry.CONTAINER}: answers at {endpoint}; the nodes pull only from it")
    return endpoint


def push_images(names: Iterable[str]) -> dict[str, lock.LockedImage]:
    """Push the locked images to the local registry; the lock records each one's
    `localhost:5001/<repository>@sha256:...`, the name the nodes pull it by."""
    try:
        return registry.push(local_registry.HOST_ENDPOINT, list(names))
    except (RegistryError, RunError) as error:
        raise ClusterError(f"pushing to the local registry failed: {error}") from error


def push_base_image() -> str:
    """Push the Debian image under its upstream name, which the nodes resolve through the local
    registry (tests and the storage helper pods run it)."""
    try:
        repository, _, tag = dockerd.ensure_base_image().rpartition(":")
        digest = registry.push_reference(local_registry.HOST_ENDPOINT, repository, tag)
    except (RegistryError, RunError) as error:
        raise ClusterError(
            f"pushing the base image to the local registry failed: {error}"
        ) from error
    say(f"    {repository}:{tag}: {digest}")
    return digest


def gpu_plugin_image() -> lock.LockedImage:
    """The plugin's image, built by the project's image builder when its inputs changed."""
    try:
        return build.build(spec.load(), [GPU_PLUGIN])[GPU_PLUGIN]
    except (build.BuildError, spec.SpecError) as error:
        raise ClusterError(f"building the fake GPU plugin image failed: {error}") from error


def deploy_gpu_plugin(config: ClusterConfig, plugin: lock.LockedImage) -> None:
    """Install the plugin's chart with the image as pushed (a rebuilt image has a new digest,
    so its pods are replaced), and wait for its pods."""
    charts.install(
        config, GPU_PLUGIN, GPU_PLUGIN_CHART, {"image": plugin.digest}, namespace="kube-system"
    )
    config.kubectl.in_namespace("kube-system").rollout_status(
        "daemonset/fake-gpu-plugin", GPU_WAIT_S
    )


def gpu_nodes(config: ClusterConfig) -> list[dict]:
    return config.kubectl.get("nodes", "-l", f"{cluster_config.GPU_NODE_LABEL}=true")["items"]


def expected_layout(node: dict) -> NodeLayout:
    """What the plugin makes of this node's config labels."""
    name = node["metadata"]["name"]
    try:
        return layout_from_labels(GPU_PLUGIN_FILES, name, node["metadata"].get("labels", {}))
    except ConfigError as error:
        raise ClusterError(f"GPU node {name}: {error}") from error


def gpu_node_problems(node: dict) -> list[str]:
    """What this GPU node still lacks of its resources and GFD labels (nothing: it is ready)."""
    name = node["metadata"]["name"]
    layout = expected_layout(node)
    allocatable = node["status"].get("allocatable", {})
    labels = node["metadata"].get("labels", {})
    problems = [
        f"{name}: {resource.name} {allocatable.get(resource.name, 'absent')} "
        f"(wanted {len(resource.devices)})"
        for resource in layout.resources
        if allocatable.get(resource.name) != str(len(resource.devices))
    ]
    problems += [
        f"{name}: label {key}={labels.get(key, '(absent)')} (wanted {value})"
        for key, value in gfd_labels(layout).items()
        if labels.get(key) != value
    ]
    return problems


def gpu_summary(node: dict) -> str:
    layout = expected_layout(node)
    resources = ", ".join(f"{len(r.devices)} {r.name}" for r in layout.resources)
    product = gfd_labels(layout)["nvidia.com/gpu.product"]
    return f"{node['metadata']['name']} ({product}): {resources}"


def wait_for_gpus(config: ClusterConfig) -> None:
    if not gpu_nodes(config):
        raise ClusterError(f"no node is labelled {cluster_config.GPU_NODE_LABEL}=true")
    deadline = time.monotonic() + GPU_WAIT_S
    while True:
        nodes = gpu_nodes(config)
        problems = [problem for node in nodes for problem in gpu_node_problems(node)]
        if not problems:
            for node in nodes:
                say(f"    {gpu_summary(node)}")
            return
        if time.monotonic() > deadline:
            raise ClusterError(
                f"the GPU nodes are not ready after {GPU_WAIT_S} s: {'; '.join(problems)}; see "
                "`kubectl -n kube-system logs -l app.kubernetes.io/name=fake-gpu-plugin`"
            )
        time.sleep(2)


def up(config: ClusterConfig | None = None) -> None:
    """Create the cluster with the fake GPU plugin, or bring an existing one up to date."""
    config = config or cluster_config.current()
    with step("prerequisites: docker, go"):
        prerequisites.ensure(["docker", "go"])
        dockerd.ensure_privileged_containers()
    with step("tools: " + ", ".join(binaries.TOOLS)):
        for name in binaries.TOOLS:
            say(f"    {name}: {binaries.ensure(name)}")
    with step("node image"):
        image = node_image.ensure()
    with step(f"cluster {config.name}"):
        create_cluster(config, image)
    with step("local registry"):
        start_registry()
    with step("nodes Ready, DNS and storage Available"):
        wait_for_nodes_ready(config)
    with step("pod network"):
        ensure_pod_network(config)
    with step("shared volumes"):
        use_shared_volumes(config)
    with step(f"image {GPU_PLUGIN}"):
        gpu_plugin_image()
    with step("push the cluster's images to the local registry"):
        plugin = push_images([GPU_PLUGIN])[GPU_PLUGIN]
        push_base_image()
    with step("fake GPU device plugin"):
        deploy_gpu_plugin(config, plugin)
        wait_for_gpus(config)


def down(config: ClusterConfig | None = None) -> None:
    """Delete the cluster; nothing to do when it does not exist."""
    config = config or cluster_config.current()
    with step(f"delete cluster {config.name}"):
        if not cluster_exists(config):
            say(f"    cluster {config.name}: absent")
            return
        kind("delete", "cluster", "--name", config.name)
        clear_shared_dir(config, dockerd.base_image())


if __name__ == "__main__":
    sys.exit(
        commands.main("devenv.cluster", {"up": up, "down": down}, sys.argv[1:], (ClusterError,))
    )
