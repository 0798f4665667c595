"""Built images reach manifests one way: the repository a manifest names gets the locked tag."""

from __future__ import annotations

import pytest

from devenv import manifests
from tools.images.lock import LockedImage

LOCKED = {"mock-moodle": LockedImage("jupyterhub-k8s/mock-moodle", "abc123", "0" * 64, "sha256:1")}


def deployment(*images: str) -> dict:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return {
        "kind": "Deployment",
        "metadata": {"name": "mock-moodle"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


def test_a_locked_repository_gets_its_reference_and_pinned_upstream_images_stay():
    (document,) = manifests.with_locked_images(
        [deployment("jupyterhub-k8s/mock-moodle", "debian:bookworm-slim")], LOCKED
    )
    images = [c["image"] for c in document["spec"]["template"]["spec"]["containers"]]
    assert images == ["jupyterhub-k8s/mock-moodle:abc123", "debian:bookworm-slim"]


def test_an_image_of_ours_that_was_never_built_is_named():
    unbuilt = r"jupyterhub-k8s/hub.*python -m tools\.images"
    with pytest.raises(manifests.UnbuiltImage, match=unbuilt):
        manifests.with_locked_images([deployment("jupyterhub-k8s/hub")], LOCKED)


def test_a_list_puts_every_document_in_the_namespace():
    listed = manifests.as_list([deployment("x:1")], "jupyterhub")
    assert listed["kind"] == "List"
    assert [item["metadata"]["namespace"] for item in listed["items"]] == ["jupyterhub"]
