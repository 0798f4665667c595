"""Kubernetes manifests of the dev environment, and the one way built images reach them.

A manifest names each image we build by its repository without a tag (as images.toml does,
e.g. `jupyterhub-k8s/fake-gpu-plugin`); `with_locked_images` puts in the reference the image
lock names (`repository:<content hash>`). A rebuilt image has a new tag, so Kubernetes replaces
the pods that run it, and an image that was never built is an error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tools.images.lock import LockedImage


class UnbuiltImage(LookupError):
    """A manifest names an image of ours that the lock does not hold."""


def read(path: Path) -> list[dict[str, Any]]:
    """The documents of a YAML manifest file."""
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def pod_specs(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod specs of a workload (its pod template) or of a Pod."""
    if document["kind"] == "Pod":
        return [document["spec"]]
    template = document.get("spec", {}).get("template")
    return [template["spec"]] if template else []


def with_locked_images(
    documents: list[dict[str, Any]], locked: Mapping[str, LockedImage]
) -> list[dict[str, Any]]:
    """The documents with every container image that is one of `locked`'s repositories replaced
    by the locked reference (in place, and returned)."""
    by_repository = {entry.repository: entry.reference for entry in locked.values()}
    for document in documents:
        for spec in pod_specs(document):
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                image = container["image"]
                if image in by_repository:
                    container["image"] = by_repository[image]
                elif ":" not in image and "@" not in image:
                    raise UnbuiltImage(
                        f"{document['kind']} {document['metadata']['name']} runs {image}, which "
                        "has no entry in images/images.lock.json: build it with "
                        "`python -m tools.images build`"
                    )
    return documents


def as_list(documents: list[dict[str, Any]], namespace: str | None = None) -> dict[str, Any]:
    """One `List` to apply, each document put in `namespace` when given."""
    if namespace is not None:
        documents = [
            {**document, "metadata": {**document["metadata"], "namespace": namespace}}
            for document in documents
        ]
    return {"apiVersion": "v1", "kind": "List", "items": documents}
