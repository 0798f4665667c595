"""The pre-puller and user placeholders on the kind cluster: the install's hook pulls onto a
node that lacks the image while the release's PriorityClasses do not exist yet, the continuous
puller pulls onto a node that lacked the image (as one that just joined), the hook pulls before
an upgrade goes on, and a lab preempts a placeholder that fills its node.

Needs what test_cluster_install.py needs. The release's labs go only to a node carrying
NODE_LABEL, which the test puts on a GPU node (so that no other lab or puller lands there) and
removes after; the release and its namespace are removed after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import run_helm
from test_cluster_install import install, release_values, wait_until

from devenv import cluster_config, node_images

pytestmark = pytest.mark.cluster

NAMESPACE = "hubconfig-prepuller"
RELEASE = "prepull"
FULLNAME = f"{RELEASE}-jupyterhub-k8s"
NODE_LABEL = "hubconfig-test/labs"
PULL_WAIT_S = 300
CLUSTER = cluster_config.current()
KUBECTL = CLUSTER.kubectl.in_namespace(NAMESPACE)
GPU_TOLERATION = {
    "key": "nvidia.com/gpu",
    "operator": "Equal",
    "value": "present",
    "effect": "NoSchedule",
}


@pytest.fixture(scope="module")
def node() -> Iterator[str]:
    """A GPU node (its name is its kind container's), labelled for this release's labs while
    the tests run."""
    nodes = CLUSTER.kubectl.get("nodes", "-l", "nvidia.com/gpu.present=true")["items"]
    assert nodes, "no GPU node: run `python -m devenv.cluster up`"
    name = nodes[0]["metadata"]["name"]
    CLUSTER.kubectl("label", "node", name, f"{NODE_LABEL}=true", "--overwrite")
    yield name
    CLUSTER.kubectl("label", "node", name, f"{NODE_LABEL}-")


@pytest.fixture(scope="module")
def lab_image() -> str:
    image = release_values()["singleuser"]["image"]
    return f"{image['name']}@{image['digest']}"


class Release:
    """The test's release: `upgrade` installs or upgrades it with further values."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.base = {
            **release_values(),
            # The chart's defaults, which the dev values (installed first) turn off.
            # Only the lab image this test removes and checks: the dev profiles' images include
            # the 6.8 GB GPU lab, whose pull onto every GPU node outlasts Helm's hook timeout.
            "prePuller": {
                "hook": {"enabled": True},
                "continuous": {"enabled": True},
                "pullProfileListImages": False,
            },
            "scheduling": {"podPriority": {"enabled": True}},
        }
        singleuser = self.base["singleuser"]
        singleuser["nodeSelector"] = {NODE_LABEL: "true"}
        # The labelled node is a GPU node: CPU labs (and so their puller) tolerate its taint.
        singleuser["extraTolerations"] = [GPU_TOLERATION]
        self.upgrades = 0

    def upgrade(self, values: dict[str, Any]) -> None:
        self.upgrades += 1
        path = self.folder / f"values-{self.upgrades}.yaml"
        path.write_text(yaml.safe_dump(merged(self.base, values)))
        install(path, release=RELEASE, namespace=NAMESPACE)


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(base[key], value) if isinstance(base.get(key), dict) else value
    return out


@pytest.fixture(scope="module")
def release(
    tmp_path_factory: pytest.TempPathFactory, node: str, lab_image: str
) -> Iterator[Release]:
    """The release, installed onto a labelled node that lacks the lab image: the pre-install
    hook pulls it there before the release's PriorityClasses exist (`install` fails when the
    hook does not finish within Helm's timeout)."""
    chart = Release(tmp_path_factory.mktemp("prepuller"))
    node_images.remove_image(node, lab_image)
    try:
        chart.upgrade({})
        yield chart
    finally:
        run_helm("uninstall", RELEASE, "--kube-context", CLUSTER.context, "--namespace", NAMESPACE)
        CLUSTER.kubectl("delete", "namespace", NAMESPACE, "--timeout=300s", timeout=330)


def pods(component: str, node: str) -> list[dict[str, Any]]:
    selection = f"app.kubernetes.io/component={component}"
    found = KUBECTL.get("pods", "-l", selection, "--field-selector", f"spec.nodeName={node}")
    return found["items"]


def running(pod: dict[str, Any]) -> bool:
    return pod["status"].get("phase") == "Running"


def hook_objects_left() -> list[str]:
    """The hook's pullers and awaiter still there: Helm deletes them once the hook succeeded."""
    hooks = "app.kubernetes.io/component in (hook-image-puller,hook-image-awaiter)"
    left = KUBECTL.get("daemonsets,jobs,roles,serviceaccounts", "-l", hooks)
    return [item["metadata"]["name"] for item in left["items"]]


def test_the_install_hook_pulled_onto_the_node_and_went(
    release: Release, node: str, lab_image: str
) -> None:
    assert node_images.has_image(node, lab_image)
    assert hook_objects_left() == []


def test_the_continuous_puller_pulls_onto_a_node_that_lacked_the_image(
    release: Release, node: str, lab_image: str
) -> None:
    CLUSTER.kubectl("label", "node", node, f"{NODE_LABEL}-")
    wait_until(
        lambda: not pods("continuous-image-puller", node), 120, "the continuous puller to go"
    )
    node_images.remove_image(node, lab_image)
    CLUSTER.kubectl("label", "node", node, f"{NODE_LABEL}=true", "--overwrite")
    wait_until(
        lambda: any(running(pod) for pod in pods("continuous-image-puller", node)),
        PULL_WAIT_S,
        f"the continuous puller to pull {lab_image} on {node}",
    )
    assert node_images.has_image(node, lab_image)


def test_the_hook_pulls_before_the_upgrade_goes_on(
    release: Release, node: str, lab_image: str
) -> None:
    # Without the continuous puller, nothing else pulls the image again.
    release.upgrade({"prePuller": {"continuous": {"enabled": False}}})
    wait_until(
        lambda: not pods("continuous-image-puller", node), 120, "the continuous puller to go"
    )
    node_images.remove_image(node, lab_image)
    release.upgrade({"prePuller": {"continuous": {"enabled": False}}})
    assert node_images.has_image(node, lab_image)
    assert hook_objects_left() == []


def allocatable_millicores(node: str) -> int:
    cpu = CLUSTER.kubectl.get("node", node)["status"]["allocatable"]["cpu"]
    return int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)


def requested_millicores(node: str) -> int:
    """CPU requested by the pods that hold room on the node."""
    listed = CLUSTER.kubectl.get(
        "pods", "--all-namespaces", "--field-selector", f"spec.nodeName={node}"
    )["items"]
    total = 0
    for pod in listed:
        if pod["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        for container in pod["spec"]["containers"]:
            cpu = container.get("resources", {}).get("requests", {}).get("cpu", "0")
            total += int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
    return total


def lab_like_pod(image: str, millicores: int) -> dict[str, Any]:
    """A pod as the hub makes a lab: the labs' PriorityClass, their node and tolerations."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "lab-like", "namespace": NAMESPACE},
        "spec": {
            "priorityClassName": f"{FULLNAME}-default-priority",
            "nodeSelector": {NODE_LABEL: "true"},
            "tolerations": [GPU_TOLERATION],
            "securityContext": {"runAsUser": 1000, "runAsNonRoot": True},
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "notebook",
                    "image": image,
                    "command": ["sleep", "infinity"],
                    "resources": {"requests": {"cpu": f"{millicores}m"}},
                }
            ],
        },
    }


def test_a_lab_preempts_a_placeholder_that_fills_its_node(
    release: Release, node: str, lab_image: str
) -> None:
    free = allocatable_millicores(node) - requested_millicores(node)
    size = free // 2
    assert size >= 100, f"{node} has {free}m CPU free; the test needs at least 200m"
    placeholders = {"enabled": True, "replicas": 2, "resources": {"requests": {"cpu": f"{size}m"}}}
    release.upgrade({"scheduling": {"userPlaceholder": placeholders}})
    wait_until(
        lambda: len([pod for pod in pods("user-placeholder", node) if running(pod)]) == 2,
        120,
        "two placeholders to fill the node",
    )
    # What is left is too little for a lab of a placeholder's size.
    assert allocatable_millicores(node) - requested_millicores(node) < size
    KUBECTL.apply(lab_like_pod(lab_image, size))
    wait_until(
        lambda: running(KUBECTL.get("pod", "lab-like")), 120, "the lab to preempt a placeholder"
    )
    assert KUBECTL.get("pod", "lab-like")["spec"]["nodeName"] == node

    def phases() -> list[str]:
        placed = KUBECTL.get("pods", "-l", "app.kubernetes.io/component=user-placeholder")
        return sorted(pod["status"].get("phase", "") for pod in placed["items"])

    # The preempted placeholder comes back, and waits for room.
    wait_until(lambda: phases() == ["Pending", "Running"], 60, "one placeholder to wait")
    KUBECTL("delete", "pod", "lab-like", "--wait=false")
