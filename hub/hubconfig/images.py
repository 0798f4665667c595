"""Image references from the chart's `{name, tag, digest}` image values."""

from __future__ import annotations

from typing import Any


def reference(image: dict[str, Any]) -> str:
    """`name@digest` when a digest is pinned, else `name:tag` (or the bare name)."""
    if image.get("digest"):
        return f"{image['name']}@{image['digest']}"
    if image.get("tag"):
        return f"{image['name']}:{image['tag']}"
    return image["name"]
