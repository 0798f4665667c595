"""The nodes pull from the local registry (tools/local_registry.py), and only from it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_kube import TEST_IMAGE, pod_manifest, running_pod, wait_until

from tools import docker, local_registry
from tools.bootstrap.run import succeeds
from tools.images import registry
from tools.kube import Kubectl

pytestmark = pytest.mark.cluster

REPOSITORY = "jupyterhub-k8s/registry-pull-test"
# A Docker Hub name (docker.io/library/...): the nodes resolve it through the mirror.
UPSTREAM_REPOSITORY = "registry-mirror-test"


@pytest.fixture
def fresh_image(tmp_path: Path) -> Iterator[str]:
    """A tag of an image no node has: the test image with a label of its own, so its manifest
    digest is new."""
    tag = uuid.uuid4().hex[:12]
    (tmp_path / "Dockerfile").write_text(
        f"FROM {TEST_IMAGE}\nLABEL org.jupyterhub-k8s.test-nonce={tag}\n"
    )
    docker.docker("build", "--quiet", "--tag", f"{REPOSITORY}:{tag}", str(tmp_path))
    yield tag
    for reference in docker.docker("images", "--format", "{{.Repository}}:{{.Tag}}").split():
        if reference.endswith(f":{tag}"):
            docker.remove(reference)


def node_has(node: str, image: str) -> bool:
    return succeeds(["docker", "exec", node, "crictl", "inspecti", image])


def run_pod(kube: Kubectl, namespace: str, name: str, image: str) -> str:
    """Run a pod of `image` (pulled when the node lacks it); return its node."""
    manifest = pod_manifest(name, namespace)
    manifest["spec"]["containers"][0]["image"] = image
    kube.apply(manifest)
    return running_pod(kube, namespace, name)["spec"]["nodeName"]


def test_a_node_pulls_our_image_by_its_digest_in_the_local_registry(
    kube: Kubectl, namespace: str, control_plane_node: str, fresh_image: str
) -> None:
    digest = registry.push_reference(local_registry.HOST_ENDPOINT, REPOSITORY, fresh_image)
    assert digest.startswith(f"localhost:5001/{REPOSITORY}@sha256:")
    assert not node_has(control_plane_node, digest)
    node = run_pod(kube, namespace, "pulled", digest)
    assert node == control_plane_node
    assert node_has(node, digest)
    docker.docker("exec", node, "crictl", "rmi", digest)


def test_an_upstream_name_resolves_through_the_local_registry(
    kube: Kubectl, namespace: str, control_plane_node: str, fresh_image: str
) -> None:
    """docker.io names are mirrored: the node asks the local registry, which is all it has."""
    docker.tag(f"{REPOSITORY}:{fresh_image}", f"{UPSTREAM_REPOSITORY}:{fresh_image}")
    registry.push_reference(local_registry.HOST_ENDPOINT, UPSTREAM_REPOSITORY, fresh_image)
    upstream = f"docker.io/library/{UPSTREAM_REPOSITORY}:{fresh_image}"
    assert not node_has(control_plane_node, upstream)
    node = run_pod(kube, namespace, "mirrored", f"{UPSTREAM_REPOSITORY}:{fresh_image}")
    assert node_has(node, upstream)
    docker.docker("exec", node, "crictl", "rmi", upstream)


def test_a_name_the_local_registry_lacks_is_asked_of_it_alone(
    kube: Kubectl, namespace: str
) -> None:
    """No fallback to Docker Hub: the local registry answers "not found" and nothing else is
    asked (Docker Hub cannot be reached from here: asking it would fail to connect)."""
    manifest = pod_manifest("absent", namespace)
    manifest["spec"]["containers"][0]["image"] = f"never-pushed-{uuid.uuid4().hex[:8]}:1"
    kube.apply(manifest)

    def pull_error() -> str:
        events = kube.get(
            "events",
            "-n",
            namespace,
            "--field-selector",
            "involvedObject.name=absent,reason=Failed",
        )["items"]
        return "\n".join(event["message"] for event in events if "pull" in event["message"])

    message = wait_until("the pull to fail", pull_error)
    assert "code = NotFound" in message
    assert "registry-1.docker.io" not in message
