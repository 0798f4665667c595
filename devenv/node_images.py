"""The images a kind node holds, through its containerd (crictl inside the node's container):
for tests and benchmarks that need a node without an image, as a node that just joined."""

from __future__ import annotations

import json
from typing import Any

from tools.bootstrap.run import run

# crictl gives each call 2 s by default; removing a large image (the 6.8 GB deep-learning lab's
# layers) takes containerd longer, and the call then fails with DeadlineExceeded.
CRICTL_TIMEOUT_S = 110


def _crictl(node: str, *args: str) -> str:
    return run(
        ["docker", "exec", node, "crictl", f"--timeout={CRICTL_TIMEOUT_S}s", *args],
        timeout=CRICTL_TIMEOUT_S + 10,
    )


def _image_ids(node: str, reference: str) -> list[str]:
    """Ids of the node's images that `reference` (`name@sha256:...` or `name:tag`) names."""
    images: list[dict[str, Any]] = json.loads(_crictl(node, "images", "-o", "json"))["images"]
    return [
        image["id"]
        for image in images
        if reference in (image.get("repoDigests") or []) + (image.get("repoTags") or [])
    ]


def has_image(node: str, reference: str) -> bool:
    """Whether the node holds the image `reference` names."""
    return bool(_image_ids(node, reference))


def remove_image(node: str, reference: str) -> None:
    """Remove the image from the node's containerd; containers that use it keep running."""
    for image_id in _image_ids(node, reference):
        _crictl(node, "rmi", image_id)
    if has_image(node, reference):
        raise RuntimeError(f"{reference} is still on {node} after crictl rmi")
