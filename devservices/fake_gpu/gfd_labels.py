"""Node labels as NVIDIA's GPU Feature Discovery sets them, from the node's layout; the plugin
patches them onto its node so that pods select GPU models and MIG slices as on real nodes."""

from __future__ import annotations

from fake_gpu.layout import NodeLayout
from fake_gpu.nvidia_config import GPU_RESOURCE

# The label families discovery owns; stale ones of these are removed.
DISCOVERY_PREFIXES = ("nvidia.com/gpu.", "nvidia.com/mig.", "nvidia.com/mig-")
# Set by the cluster's operator, not by discovery: never removed as stale.
OPERATOR_LABELS = frozenset(
    {"nvidia.com/gpu.present", "nvidia.com/device-plugin.config", "nvidia.com/mig.config"}
)


def product_label(name: str) -> str:
    """GFD's spelling of a product name: spaces become dashes."""
    return name.replace(" ", "-")


def gfd_labels(layout: NodeLayout) -> dict[str, str]:
    model = layout.model
    config = layout.plugin_config
    gpu = next((r for r in layout.resources if r.name == GPU_RESOURCE), None)
    shared = config.sharing_of(GPU_RESOURCE)
    # GFD marks the product -SHARED when the replicas keep the plain name (no rename).
    time_sliced = shared is not None and shared.replicas > 1
    product = product_label(model.name)
    if config.mig_strategy == "single" and layout.slices:
        product = f"{product}-MIG-{layout.slices[0].profile.name}"
    if time_sliced and config.shared_name(shared) == GPU_RESOURCE:
        product += "-SHARED"
    whole = gpu.devices if gpu else ()
    labels = {
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.count": str(len({device.visible_id for device in whole})),
        "nvidia.com/gpu.memory": str(model.memory_mib),
        "nvidia.com/gpu.replicas": str(shared.replicas if shared else 1),
        "nvidia.com/gpu.sharing-strategy": "time-slicing" if time_sliced else "none",
        "nvidia.com/mig.capable": str(model.mig_capable).lower(),
        "nvidia.com/mig.strategy": config.mig_strategy,
    }
    if config.mig_strategy == "mixed":
        for part in layout.slices:
            key = f"nvidia.com/mig-{part.profile.name}"
            labels[f"{key}.count"] = str(
                sum(1 for other in layout.slices if other.profile == part.profile)
            )
            labels[f"{key}.memory"] = str(part.profile.memory_mib)
            labels[f"{key}.product"] = f"{product_label(model.name)}-MIG-{part.profile.name}"
    return labels


def label_patch(current: dict[str, str], wanted: dict[str, str]) -> dict[str, str | None]:
    """The merge patch that sets `wanted` and removes discovery labels that no longer apply."""
    stale = {
        key: None
        for key in current
        if key.startswith(DISCOVERY_PREFIXES) and key not in wanted and key not in OPERATOR_LABELS
    }
    changed = {key: value for key, value in wanted.items() if current.get(key) != value}
    return stale | changed
