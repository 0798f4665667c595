"""Where the chart (helm/jupyterhub-k8s) takes each image: the one mapping from image names
(entries of images/images.toml) to chart values, for the dev environment and the release."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

# Lab images other than lab-base go under singleuser.images.<name>.
CHART_IMAGE_PATHS = {
    "hub": ("hub", "image"),
    "configurable-http-proxy": ("proxy", "chp", "image"),
    "lab-base": ("singleuser", "image"),
}


def image_values(locked: Mapping[str, Any], lab_keys: Collection[str]) -> dict[str, Any]:
    """Chart values naming each locked image the chart runs (`tools.images.lock.read()`).

    `lab_keys` are the keys of `singleuser.images` that the values use; other lab images in the
    lock stay out. The chart's tests use this too, so the dev environment and they agree.
    """
    values: dict[str, Any] = {}
    for name, entry in locked.items():
        path = CHART_IMAGE_PATHS.get(name)
        if path is None and name in lab_keys:
            path = ("singleuser", "images", name)
        if path is None:
            continue
        node = values
        for key in path:
            node = node.setdefault(key, {})
        node.update(entry.chart_image())
    return values
