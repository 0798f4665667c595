"""The local kind cluster with a fake-GPU node: `up` creates it, `down` deletes it.

Both are idempotent. `up` makes sure of the prerequisites (Docker, Go), the pinned tools, the
node image, the cluster, the images it needs (loaded with `kind load`) and the fake GPU device
plugin, and returns once the GPU node advertises `nvidia.com/gpu`.

CLI: `python -m devenv.cluster up|down` (the project's venv: it reads YAML).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from devenv import cluster_config, node_image
from tools import binaries, gobuild
from tools.bootstrap import dockerd, prerequisites
from tools.bootstrap.paths import logs_dir
from tools.bootstrap.progress import say, step

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PLUGIN_IMAGE = "jupyterhub-k8s/fake-gpu-plugin:dev"
GPU_PLUGIN_SPEC = "fake-gpu-plugin"  # its entry in images/images.toml
GPU_PLUGIN_MANIFEST = cluster_config.KIND_DIR / "fake-gpu-plugin.yaml"
IMAGE_ID_KEY = "jupyterhub-k8s/image-id"
GPU_WAIT_S = 180
NODES_READY_WAIT_S = 300
POD_NETWORK_WAIT_S = 30
POD_SUBNETS_SET = "kube-router-pod-subnets"  # kube-router's ipset of every node's podCIDR
# CoreDNS and the local-path provisioner, which kind installs.
LOCAL_PATH_NAMESPACE = "local-path-storage"
SYSTEM_NAMESPACES = ("kube-system", LOCAL_PATH_NAMESPACE)


class ClusterError(RuntimeError):
    """A step of bringing the cluster up or down failed; the message says which and why."""


def run(command: list[str | Path], *, what: str, timeout: float | None = None) -> str:
    """Run a command; on failure raise ClusterError naming the step and the command's error."""
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise ClusterError(f"{what} failed: {detail}")
    return result.stdout


def kubectl(*args: str, what: str, timeout: float | None = 120) -> str:
    """kubectl against this cluster's context, whatever the current context is."""
    binary = binaries.ensure("kubectl")
    return run(
        [binary, "--context", cluster_config.kube_context(), *args], what=what, timeout=timeout
    )


def cluster_exists(kind: Path) -> bool:
    return (
        cluster_config.cluster_name()
        in run([kind, "get", "clusters"], what="kind get clusters").split()
    )


def node_containers(kind: Path) -> list[str]:
    """The Docker containers that are this cluster's nodes."""
    nodes = run(
        [kind, "get", "nodes", "--name", cluster_config.cluster_name()], what="kind get nodes"
    )
    return nodes.split()


def wait_for_rollout(resource: str, namespace: str, timeout_s: float, what: str) -> None:
    """`kubectl rollout status` of e.g. `daemonset/kube-router`, with its own deadline."""
    kubectl(
        "rollout", "status", resource, "-n", namespace, f"--timeout={timeout_s:.0f}s",
        what=what, timeout=timeout_s + 30,
    )  # fmt: skip


def restart_rollout(resource: str, namespace: str, what: str) -> None:
    """Replace the pods of a Deployment or DaemonSet and wait until the new ones are ready."""
    kubectl("rollout", "restart", resource, "-n", namespace, what=f"restarting {what}")
    wait_for_rollout(resource, namespace, NODES_READY_WAIT_S, what=f"waiting for {what}")


def cluster_answers(kind: Path) -> bool:
    """True when every node container runs and the API server reports ready.

    A cluster outlives the dockerd that ran it only as stopped containers (a reboot, or a CI run
    after the session that created it); kind cannot resume those reliably, so they are recreated.
    """
    for node in node_containers(kind):
        state = dockerd.docker("inspect", "-f", "{{.State.Running}}", node, check=False).strip()
        if state != "true":
            return False
    try:
        kubectl("get", "--raw", "/readyz", what="asking the API server", timeout=30)
    except (ClusterError, subprocess.TimeoutExpired):
        return False
    return True


def clear_shared_dir(image: str) -> None:
    """Empty the folder the nodes share: its volumes belonged to a cluster that is gone.

    Pods wrote it as root and as their own users, so a container removes the files (the caller
    may not be root); the image is one that is there already.
    """
    folder = cluster_config.shared_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        return
    dockerd.docker(
        "run", "--rm", "--entrypoint", "find", "-v", f"{folder}:/shared", image,
        "/shared", "-mindepth", "1", "-delete",
    )  # fmt: skip


def create_cluster(kind: Path, image: str) -> None:
    name = cluster_config.cluster_name()
    if cluster_exists(kind):
        if not cluster_answers(kind):
            say(f"    cluster {name}: exists but does not answer (nodes stopped?); recreating it")
        elif cluster_config.config_changed_since_creation():
            say(
                f"    cluster {name}: its configuration changed since it was created "
                "(devenv/kind/kind-config.yaml, ports.yaml); recreating it"
            )
        else:
            say(f"    cluster {name}: exists")
            return
        run([kind, "delete", "cluster", "--name", name], what="deleting the old cluster")
    clear_shared_dir(image)
    log = logs_dir() / f"kind-create-{name}.log"
    config = cluster_config.write_kind_config()
    with log.open("w") as handle:
        result = subprocess.run(
            [kind, "create", "cluster", "--config", config, "--image", image],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        run([kind, "delete", "cluster", "--name", name], what="deleting the failed cluster")
        raise ClusterError(
            f"`kind create cluster` failed (log {log}); the nodes were deleted "
            f"(run kind by hand with --retain to keep them for debugging).\n{tail}"
        )


def wait_for_nodes_ready() -> None:
    """Nodes Ready, then the cluster's own Deployments (DNS, storage) Available."""
    waits = [
        ("nodes", ["nodes", "--all"], "Ready"),
        *(
            (f"Deployments in {ns}", ["deployments", "--all", "-n", ns], "Available")
            for ns in SYSTEM_NAMESPACES
        ),
    ]
    for what, selection, condition in waits:
        kubectl(
            "wait",
            f"--for=condition={condition}",
            *selection,
            f"--timeout={NODES_READY_WAIT_S}s",
            what=f"waiting for the {what} to become {condition}",
            timeout=NODES_READY_WAIT_S + 30,
        )


def pod_subnets_missing(kind: Path) -> dict[str, list[str]]:
    """Per node, the pod subnets its kube-router does not know.

    kube-router masquerades pod traffic to any address outside its `kube-router-pod-subnets` set;
    a node that started before another node got its podCIDR may never add it (seen with v2.1.0),
    and then traffic from its pods to that node's pods arrives from the node's address, which
    NetworkPolicies that allow pods (the hub reaching a lab) drop.
    """
    jsonpath = "{.items[*].spec.podCIDR}"
    subnets = set(
        kubectl("get", "nodes", "-o", f"jsonpath={jsonpath}", what="reading pod subnets").split()
    )
    missing = {}
    for node in node_containers(kind):
        listed = dockerd.docker("exec", node, "ipset", "list", POD_SUBNETS_SET, check=False)
        known = {line.split()[0] for line in listed.splitlines() if line[:1].isdigit()}
        if subnets - known:
            missing[node] = sorted(subnets - known)
    return missing


def wait_for_pod_subnets(kind: Path) -> dict[str, list[str]]:
    """Poll until every node knows every pod subnet (kube-router fills its sets after it starts);
    return what is still missing at the deadline."""
    deadline = time.monotonic() + POD_NETWORK_WAIT_S
    while (missing := pod_subnets_missing(kind)) and time.monotonic() < deadline:
        time.sleep(2)
    return missing


def ensure_pod_network(kind: Path) -> None:
    """Every node's kube-router knows every pod subnet; restart kube-router once if not."""
    missing = wait_for_pod_subnets(kind)
    if missing:
        say(
            f"    kube-router lacks pod subnets {missing} (it started before they existed); "
            "restarting it"
        )
        restart_rollout("daemonset/kube-router", "kube-system", what="kube-router")
        missing = wait_for_pod_subnets(kind)
    if missing:
        raise ClusterError(
            f"kube-router still lacks pod subnets {missing}; see "
            "`kubectl -n kube-system logs -l app.kubernetes.io/name=kube-router`"
        )
    say("    every node routes every pod subnet without masquerading")


def use_shared_volumes() -> None:
    """Point the local-path provisioner at the shared folder (kind's default is a folder per
    node, whose volumes bind a pod to that node) and restart it when that changed anything."""
    patch = json.dumps({"data": {"config.json": cluster_config.local_path_config()}})
    result = kubectl(
        "patch", "configmap", "local-path-config", "-n", LOCAL_PATH_NAMESPACE,
        "--type", "merge", "-p", patch,
        what="configuring the local-path provisioner",
    )  # fmt: skip
    if "(no change)" in result:
        say(f"    volumes in {cluster_config.VOLUMES_DIR_IN_NODE} (shared by every node)")
        return
    restart_rollout(
        "deployment/local-path-provisioner", LOCAL_PATH_NAMESPACE, what="the provisioner"
    )
    say(f"    volumes now in {cluster_config.VOLUMES_DIR_IN_NODE} (shared by every node)")


def build_gpu_plugin_image() -> str:
    """Build the plugin image with the project's image builder and tag it as the manifest names
    it; return its image id.

    tools.images tags by a hash of the image's inputs (and skips the build when that tag
    exists); fake-gpu-plugin.yaml names the `:dev` tag.
    """
    from tools.images import build, docker_images, spec

    try:
        locked = build.build(spec.load(), [GPU_PLUGIN_SPEC])[GPU_PLUGIN_SPEC]
    except (build.BuildError, spec.SpecError) as error:
        raise ClusterError(f"building the fake GPU plugin image failed: {error}") from error
    docker_images.tag(locked.reference, GPU_PLUGIN_IMAGE)
    return locked.image_id


def deploy_gpu_plugin(image_id: str) -> None:
    """Apply the plugin's DaemonSet, its pods annotated with the image id: the `:dev` tag stays
    the same when the image is rebuilt, the annotation does not, so the pods are replaced."""
    kubectl("apply", "-f", str(GPU_PLUGIN_MANIFEST), what="applying the plugin's manifest")
    annotation = {"spec": {"template": {"metadata": {"annotations": {IMAGE_ID_KEY: image_id}}}}}
    kubectl(
        "patch", "daemonset", "fake-gpu-plugin", "-n", "kube-system", "--type", "merge",
        "-p", json.dumps(annotation), what="recording the plugin's image id",
    )  # fmt: skip
    wait_for_rollout(
        "daemonset/fake-gpu-plugin", "kube-system", GPU_WAIT_S, what="waiting for the plugin's pods"
    )


def images_to_load() -> list[str]:
    """Images the cluster runs that the node image does not hold."""
    return [GPU_PLUGIN_IMAGE, dockerd.base_image()]


def load_images(kind: Path) -> None:
    """`kind load` each image; kind skips nodes that already have the same image ID."""
    name = cluster_config.cluster_name()
    for image in images_to_load():
        result = subprocess.run(
            [kind, "load", "docker-image", "--name", name, image], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise ClusterError(f"kind load {image} failed: {result.stderr.strip()}")
        already = "already present on all nodes" in result.stderr + result.stdout
        say(f"    {image}: {'already on every node' if already else 'loaded'}")


def gpu_counts() -> dict[str, str]:
    """`nvidia.com/gpu` allocatable per node ('' where none is advertised)."""
    jsonpath = (
        "{range .items[*]}{.metadata.name}{'='}{.status.allocatable.nvidia\\.com/gpu}{'\\n'}{end}"
    )
    output = kubectl("get", "nodes", "-o", f"jsonpath={jsonpath}", what="reading GPU capacity")
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def gpu_nodes() -> list[str]:
    output = kubectl(
        "get",
        "nodes",
        "-l",
        f"{cluster_config.GPU_NODE_LABEL}=true",
        "-o",
        "name",
        what="listing GPU nodes",
    )
    return [line.removeprefix("node/") for line in output.split()]


def wait_for_gpus() -> None:
    nodes = gpu_nodes()
    if not nodes:
        raise ClusterError(f"no node is labelled {cluster_config.GPU_NODE_LABEL}=true")
    deadline = time.monotonic() + GPU_WAIT_S
    while time.monotonic() < deadline:
        counts = gpu_counts()
        if all(counts.get(node, "") not in ("", "0") for node in nodes):
            say("    " + ", ".join(f"{node}: {counts[node]} GPUs" for node in nodes))
            return
        time.sleep(2)
    raise ClusterError(
        f"the GPU nodes {nodes} report no {GPU_RESOURCE} after {GPU_WAIT_S} s; see "
        "`kubectl -n kube-system logs -l app.kubernetes.io/name=fake-gpu-plugin`"
    )


def up() -> None:
    """Create the cluster with the fake GPU plugin, or bring an existing one up to date."""
    with step("prerequisites: docker, go"):
        prerequisites.ensure(["docker", "go"])
        dockerd.ensure_privileged_containers()
    with step("tools: kind, kubectl, helm"):
        for name in binaries.TOOLS:
            say(f"    {name}: {binaries.ensure(name)}")
    kind = binaries.ensure("kind")  # cached: the step above found or built it
    with step("node image"):
        image = node_image.ensure()
    with step(f"cluster {cluster_config.cluster_name()}"):
        create_cluster(kind, image)
    with step("nodes Ready, DNS and storage Available"):
        wait_for_nodes_ready()
    with step("pod network"):
        ensure_pod_network(kind)
    with step("shared volumes"):
        use_shared_volumes()
    with step(f"image {GPU_PLUGIN_IMAGE}"):
        plugin_image_id = build_gpu_plugin_image()
    with step("load images into the nodes"):
        load_images(kind)
    with step("fake GPU device plugin"):
        deploy_gpu_plugin(plugin_image_id)
        wait_for_gpus()


def down() -> None:
    """Delete the cluster; nothing to do when it does not exist."""
    kind = binaries.ensure("kind")
    name = cluster_config.cluster_name()
    with step(f"delete cluster {name}"):
        if not cluster_exists(kind):
            say(f"    cluster {name}: absent")
            return
        run([kind, "delete", "cluster", "--name", name], what="kind delete cluster")
        clear_shared_dir(node_image.node_image_name())


COMMANDS = {"up": up, "down": down}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print("usage: python -m devenv.cluster up|down", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        COMMANDS[argv[0]]()
    except (
        ClusterError,
        cluster_config.ClusterConfigError,
        node_image.NodeImageError,
        prerequisites.MissingPrerequisites,
        dockerd.DockerError,
        gobuild.GoBuildError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    say(f"cluster {argv[0]}: done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
