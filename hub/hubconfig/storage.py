"""Volumes of every lab: the home (`singleuser.storage`, z2jh's keys) and the course folders.

Home claim names and the static home folder come only from the templates the schema allows
(hub/hubconfig/lab_names.py explains why they cannot collide); course folders' paths come only
from values. A user's name or groups choose which listed folders a lab mounts, never a path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hubconfig.values import ValuesError

# The pod volume of the shared course volume; each course folder is a subPath mount of it.
COURSE_VOLUME = "course-folders"

# The start of the attach-detach controller's event when a ReadWriteOnce volume is attached to
# another node: a user's second server, on another node, waits for their one home.
MULTI_ATTACH = "Multi-Attach error for volume"
MULTI_ATTACH_HINT = (
    "Your home volume is attached to the node where your other server runs, and this storage "
    "attaches a volume to one node at a time. Stop your other server and this one continues; "
    "the hub's administrators can give each server its own home or use shared storage "
    "(singleuser.storage.dynamic in the chart's values)."
)


@dataclass(frozen=True)
class LabStorage:
    """KubeSpawner traits for storage, ready to assign."""

    traits: dict[str, Any]
    volumes: list[dict[str, Any]] = field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = field(default_factory=list)


def lab_storage(storage: dict[str, Any]) -> LabStorage:
    """The home volume and `extraVolumes` of every lab, from `singleuser.storage`."""
    # Homes outlive users the culler deletes; removing data is an administrator's decision. Without
    # homes there is no claim to delete either, and the hub's Role grants no deleting of claims.
    traits: dict[str, Any] = {
        "storage_pvc_ensure": False,
        "delete_pvc": False,
        "storage_extra_labels": dict(storage["extraLabels"]),
    }
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    home = storage["homeMountPath"]
    if storage["type"] == "dynamic":
        dynamic = storage["dynamic"]
        traits.update(
            storage_pvc_ensure=True,
            storage_capacity=str(storage["capacity"]),
            storage_class=dynamic.get("storageClass") or None,
            storage_access_modes=list(dynamic["storageAccessModes"]),
            pvc_name_template=dynamic["pvcNameTemplate"],
        )
        name = dynamic["volumeNameTemplate"]
        volumes.append({"name": name, "persistentVolumeClaim": {"claimName": "{pvc_name}"}})
        mounts.append({"name": name, "mountPath": home})
    elif storage["type"] == "static":
        static = storage["static"]
        volumes.append({"name": "home", "persistentVolumeClaim": {"claimName": static["pvcName"]}})
        # KubeSpawner fills in {unescaped_username}; the hub starts labs only for usernames that
        # are a single safe path segment (lab_names.check_username).
        mounts.append({"name": "home", "mountPath": home, "subPath": static["subPath"]})
    volumes.extend(storage["extraVolumes"])
    mounts.extend(storage["extraVolumeMounts"])
    names = [volume["name"] for volume in volumes]
    if storage["shared"]["enabled"]:
        names.append(COURSE_VOLUME)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValuesError(
            f"singleuser.storage.extraVolumes: the volume name(s) {', '.join(duplicates)} are "
            "already used by the lab's home or course folders; rename them"
        )
    return LabStorage(traits, volumes, mounts)


@dataclass(frozen=True)
class CourseFolder:
    """One folder of the shared volume and the groups that mount it."""

    folder: str
    read_only_groups: frozenset[str]
    read_write_groups: frozenset[str]


@dataclass(frozen=True)
class CourseFolders:
    """`singleuser.storage.shared`: which course folders a lab mounts, and how."""

    volume: dict[str, Any]
    mount_path: str
    folders: tuple[CourseFolder, ...]

    @classmethod
    def from_values(cls, shared: dict[str, Any]) -> CourseFolders | None:
        """None when `shared.enabled` is false."""
        if not shared["enabled"]:
            return None
        folders = tuple(
            CourseFolder(
                folder=course["folder"],
                read_only_groups=frozenset(course.get("readOnlyGroups", ())),
                read_write_groups=frozenset(course.get("readWriteGroups", ())),
            )
            for course in shared["courses"]
        )
        return cls(_volume_source(shared), shared["mountPath"].rstrip("/"), folders)

    def for_groups(self, groups: Iterable[str]) -> tuple[list[dict], list[dict]]:
        """Pod volumes and mounts for a user in `groups`: only the folders a group allows.

        A folder is read-write when one of its readWriteGroups matches, else read-only when one of
        its readOnlyGroups does; the volume is left out when no folder is mounted.
        """
        member_of = frozenset(groups)
        mounts = []
        for course in self.folders:
            writable = bool(member_of & course.read_write_groups)
            if writable or member_of & course.read_only_groups:
                mounts.append(
                    {
                        "name": COURSE_VOLUME,
                        "mountPath": f"{self.mount_path}/{course.folder}",
                        "subPath": course.folder,
                        "readOnly": not writable,
                    }
                )
        volumes = [{"name": COURSE_VOLUME, **self.volume}] if mounts else []
        return volumes, mounts


def _volume_source(shared: dict[str, Any]) -> dict[str, Any]:
    # Inline sources, so the chart creates no PersistentVolume (a cluster-scoped object).
    if shared["existingClaim"]:
        return {"persistentVolumeClaim": {"claimName": shared["existingClaim"]}}
    if shared["nfs"]["server"]:
        return {"nfs": {"server": shared["nfs"]["server"], "path": shared["nfs"]["path"]}}
    return {"hostPath": {"path": shared["hostPath"], "type": "DirectoryOrCreate"}}
