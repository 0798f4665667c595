"""Volumes of every lab: the user's persistent home and the optional shared course volume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LabStorage:
    """KubeSpawner traits for storage, ready to assign."""

    traits: dict[str, Any]
    volumes: list[dict[str, Any]] = field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = field(default_factory=list)


def lab_storage(storage: dict[str, Any], shared_claim: str | None) -> LabStorage:
    """Storage for `singleuser.storage`; `shared_claim` names the course volume's claim, if any."""
    # Homes outlive users the culler deletes; removing data is an administrator's decision. Without
    # homes there is no claim to delete either, and the hub's Role grants no deleting of claims.
    traits: dict[str, Any] = {"storage_pvc_ensure": False, "delete_pvc": False}
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if storage["type"] == "dynamic":
        traits.update(
            storage_pvc_ensure=True,
            storage_capacity=storage["capacity"],
            storage_class=storage["storageClass"] or None,
            storage_access_modes=["ReadWriteOnce"],
        )
        volumes.append({"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}})
        mounts.append({"name": "home", "mountPath": storage["homeMountPath"]})
    shared = storage["shared"]
    if shared["enabled"]:
        if not shared_claim:
            raise ValueError(
                "singleuser.storage.shared is enabled but the hub was not told the claim's name "
                "(JUPYTERHUB_K8S_SHARED_CLAIM); deploy with the chart, which sets it"
            )
        volumes.append({"name": "shared", "persistentVolumeClaim": {"claimName": shared_claim}})
        mounts.append({"name": "shared", "mountPath": shared["mountPath"]})
    return LabStorage(traits, volumes, mounts)
