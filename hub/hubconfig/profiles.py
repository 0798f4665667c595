"""Lab profiles as data, built once from the chart values when the hub starts.

A profile is what the form shows and who may use it, plus the KubeSpawner traits it sets (its
`kubespawner_override`, as in KubeSpawner's own profile_list). The rules across keys that the
schema cannot express (one slug per profile, image keys that exist, courses naming existing
profiles) are checked when the catalogue is built, so a mistake stops the hub at start with the
key and the value at fault instead of surfacing at some user's first spawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hubconfig import images, values

# Where each KubeSpawner trait a profile may set is found in its `profileList` entry; a profile
# that leaves one out keeps the spawner's configured value (from `singleuser`).
OVERRIDE_PATHS: Mapping[str, tuple[str, ...]] = {
    "cpu_guarantee": ("cpu", "guarantee"),
    "cpu_limit": ("cpu", "limit"),
    "mem_guarantee": ("memory", "guarantee"),
    "mem_limit": ("memory", "limit"),
    "start_timeout": ("startTimeout",),
    "http_timeout": ("httpTimeout",),
}

# Memory-backed shared memory for GPU frameworks (PyTorch data loaders), not a temporary file.
SHM_PATH = "/dev/shm"  # noqa: S108


@dataclass(frozen=True)
class Profile:
    """One entry of `singleuser.profileList`: the form's view, its rules and its spawner traits."""

    slug: str
    display_name: str
    description: str
    default: bool
    gpus: int
    allowed_groups: frozenset[str]
    kubespawner_override: Mapping[str, Any]

    def allows(self, groups: Iterable[str]) -> bool:
        """Whether a member of `groups` may use this profile (no allowed groups: everyone may)."""
        return not self.allowed_groups or not self.allowed_groups.isdisjoint(groups)

    def gpu_choices(self) -> list[int]:
        """GPU counts a user may pick for this profile (none for CPU profiles)."""
        return list(range(1, self.gpus + 1))


@dataclass(frozen=True)
class GpuResources:
    """`singleuser.gpu`: what a lab with GPUs adds to the pod of any profile."""

    resource_name: str
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    shm_size_limit: str

    def kubespawner_override(self, count: int) -> dict[str, Any]:
        """Traits for `count` GPUs; the spawner adds them to its configured maps and lists."""
        if not count:
            return {}
        shm = {"medium": "Memory", "sizeLimit": self.shm_size_limit}
        return {
            "extra_resource_limits": {self.resource_name: str(count)},
            "node_selector": dict(self.node_selector),
            "tolerations": [dict(toleration) for toleration in self.tolerations],
            "volumes": [{"name": "dshm", "emptyDir": shm}],
            "volume_mounts": [{"name": "dshm", "mountPath": SHM_PATH}],
        }


@dataclass(frozen=True)
class Offer:
    """What one user may start, worked out once per request from their groups and course."""

    catalogue: ProfileCatalogue
    groups: frozenset[str]
    allowed: tuple[Profile, ...]
    # The profile the user's LTI course maps to, when the user may use it.
    course_profile: Profile | None

    @property
    def preselected(self) -> Profile | None:
        """The course's profile, else the first allowed default one, else the first allowed."""
        if self.course_profile:
            return self.course_profile
        return next((p for p in self.allowed if p.default), None) or next(iter(self.allowed), None)


@dataclass(frozen=True)
class ProfileCatalogue:
    """Every configured profile, the course key (`<platform>/<context_id>`) -> slug mapping, and
    what GPUs add to a pod."""

    profiles: tuple[Profile, ...]
    course_profiles: Mapping[str, str]
    gpu: GpuResources

    @classmethod
    def from_values(cls, singleuser: dict[str, Any]) -> ProfileCatalogue:
        """The catalogue of schema-valid `singleuser` values; ValuesError naming every value that
        breaks a rule across keys."""
        problems = _cross_key_problems(singleuser)
        if problems:
            listing = "\n  ".join(problems)
            raise values.ValuesError(
                f"the lab profiles do not fit together:\n  {listing}\n"
                "Fix these keys in your values file (helm/jupyterhub-k8s/values.yaml documents "
                "each)."
            )
        known_images = singleuser.get("images", {})
        gpu = singleuser["gpu"]
        return cls(
            profiles=tuple(_profile(entry, known_images) for entry in singleuser["profileList"]),
            course_profiles=dict(singleuser.get("courseProfiles", {})),
            gpu=GpuResources(
                resource_name=gpu["resourceName"],
                node_selector=dict(gpu["nodeSelector"]),
                tolerations=tuple(dict(toleration) for toleration in gpu["tolerations"]),
                shm_size_limit=str(gpu["shmSizeLimit"]),
            ),
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> ProfileCatalogue:
        # traitlets deep-copies configured values into every spawner; an immutable catalogue is
        # shared instead, so it is built once per hub, not once per server.
        return self

    def by_slug(self, slug: str) -> Profile | None:
        return next((profile for profile in self.profiles if profile.slug == slug), None)

    def offer(self, groups: Iterable[str], course_key: str | None) -> Offer:
        """What a member of `groups` may start, after an LTI launch from `course_key` if any."""
        group_set = frozenset(groups)
        allowed = tuple(profile for profile in self.profiles if profile.allows(group_set))
        slug = self.course_profiles.get(course_key) if course_key else None
        course_profile = next((profile for profile in allowed if profile.slug == slug), None)
        return Offer(self, group_set, allowed, course_profile)

    @cached_property
    def overridden_traits(self) -> frozenset[str]:
        """Every trait some profile or the GPUs may set: a spawner resets these before a start."""
        names = {name for profile in self.profiles for name in profile.kubespawner_override}
        return frozenset(names | set(self.gpu.kubespawner_override(1)))


def form_entries(offer: Offer) -> list[dict[str, Any]]:
    """KubeSpawner profile_list entries for the spawn form.

    They carry no kubespawner_override: the spawner applies the chosen profile itself, after
    checking the choice, so the form is only a view of the data.
    """
    preselected = offer.preselected
    entries = []
    for profile in offer.allowed:
        entry: dict[str, Any] = {
            "slug": profile.slug,
            "display_name": profile.display_name,
            "description": profile.description,
            "default": profile is preselected,
        }
        if profile.gpus:
            entry["profile_options"] = {
                "gpus": {
                    "display_name": "GPUs",
                    "choices": {
                        str(count): {
                            "display_name": f"{count} GPU" + ("s" if count > 1 else ""),
                            "default": count == profile.gpus,
                        }
                        for count in profile.gpu_choices()
                    },
                }
            }
        entries.append(entry)
    return entries


def _profile(entry: dict[str, Any], known_images: dict[str, Any]) -> Profile:
    override: dict[str, Any] = {}
    for trait, path in OVERRIDE_PATHS.items():
        value = _lookup(entry, path)
        if value is not None:
            override[trait] = value
    if "image" in entry:
        image = known_images[entry["image"]]
        override["image"] = images.reference(image)
        override["image_pull_policy"] = image.get("pullPolicy", "IfNotPresent")
    return Profile(
        slug=entry["slug"],
        display_name=entry["displayName"],
        description=entry.get("description", ""),
        default=entry.get("default", False),
        gpus=entry.get("gpus", 0),
        allowed_groups=frozenset(entry.get("allowedGroups", [])),
        kubespawner_override=override,
    )


def _lookup(entry: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = entry
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _cross_key_problems(singleuser: dict[str, Any]) -> list[str]:
    """One line per value that the rest of `singleuser` contradicts, located like schema errors."""
    problems = []
    first_with_slug: dict[str, int] = {}
    known_images = singleuser.get("images", {})
    image_keys = ", ".join(sorted(known_images)) or "none"
    for index, entry in enumerate(singleuser["profileList"]):
        slug = entry["slug"]
        if slug in first_with_slug:
            first = values.location(["singleuser", "profileList", first_with_slug[slug]])
            problems.append(
                f"{values.location(['singleuser', 'profileList', index, 'slug'])}: duplicate "
                f"slug {slug!r}, already the slug of {first}; give each profile its own slug"
            )
        first_with_slug.setdefault(slug, index)
        image = entry.get("image")
        if image is not None and image not in known_images:
            problems.append(
                f"{values.location(['singleuser', 'profileList', index, 'image'])}: unknown image "
                f"key {image!r} (keys of singleuser.images: {image_keys})"
            )
    slugs = ", ".join(first_with_slug)
    for course, slug in singleuser.get("courseProfiles", {}).items():
        if slug not in first_with_slug:
            problems.append(
                f"{values.location(['singleuser', 'courseProfiles', course])}: unknown profile "
                f"slug {slug!r} (slugs of singleuser.profileList: {slugs})"
            )
    return problems
