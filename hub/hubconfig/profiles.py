"""Lab profiles as data, built once from the chart values when the hub starts.

A profile is what the form shows and who may use it, plus the KubeSpawner traits it sets (its
`kubespawner_override`, as in KubeSpawner's own profile_list). An entry is written in this
chart's form (`displayName`, `cpu`, `memory`, `gpus`, `image`) or in KubeSpawner's
(`display_name`, `kubespawner_override`, `profile_options`), as z2jh users write it; both become
the same Profile. The rules across keys that the schema cannot express (one display name and
slug per profile, image keys that exist, whole GPU counts, GPU types that exist and fit the
profile (an exact GPU count within each type's `maxPerLab`), courses naming existing profiles)
are checked when the catalogue is built, so a mistake
stops the hub at start with the key and the value at fault instead of surfacing at some user's
first spawn.

A GPU profile runs on one of its GPU kinds: a type of `singleuser.gpu.types` listed in its
`gpuTypes` (the first is the default), the type whose resource its `kubespawner_override` names,
or else the default kind (`singleuser.gpu.resourceName` on `singleuser.gpu.nodeSelector`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

# KubeSpawner derives a missing slug with python-slugify (a dependency of KubeSpawner); the same
# function gives a z2jh profile the slug it had there.
from slugify import slugify

from hubconfig import images, values
from hubconfig.quantities import memory_bytes

# The user option naming a GPU type; the form offers it for profiles with several types.
GPU_TYPE_OPTION = "gpu_type"

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

# KubeSpawner traits holding memory sizes, which the values may write as Kubernetes does.
MEMORY_TRAITS = frozenset({"mem_guarantee", "mem_limit"})

# Memory-backed shared memory for GPU frameworks (PyTorch data loaders), not a temporary file.
SHM_PATH = "/dev/shm"  # noqa: S108


@dataclass(frozen=True)
class Choice:
    """One choice of a profile option: its key, what the form shows, and the traits it sets."""

    key: str
    display_name: str
    default: bool
    kubespawner_override: Mapping[str, Any]


@dataclass(frozen=True)
class ProfileOption:
    """One of KubeSpawner's `profile_options`: a named pick among fixed choices."""

    name: str
    display_name: str
    choices: tuple[Choice, ...]

    @property
    def default_choice(self) -> Choice:
        """The choice marked default, else the first (as KubeSpawner picks it)."""
        return next((choice for choice in self.choices if choice.default), self.choices[0])

    def choice(self, key: str) -> Choice | None:
        return next((choice for choice in self.choices if choice.key == key), None)


@dataclass(frozen=True)
class GpuType:
    """One GPU kind: a type of `singleuser.gpu.types`, or the default kind (name "")."""

    name: str
    display_name: str
    resource_name: str
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...] = ()
    description: str = ""
    # Most GPUs of this kind one lab may ask for; None: as many as the profile offers. A MIG
    # slice or a time-sliced GPU is handed out one at a time (NVIDIA's time-slicing with
    # failRequestsGreaterThanOne refuses a pod asking for more), so such a type sets 1.
    max_per_lab: int | None = None


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
    options: tuple[ProfileOption, ...] = ()
    # Fewest GPUs a user may ask for: 1 for `gpus: N` (the form offers 1..N), N for a GPU count
    # in `kubespawner_override` (KubeSpawner's meaning: exactly N).
    min_gpus: int = 0
    # The GPU kinds a user may pick, the default first; none for CPU profiles.
    gpu_types: tuple[GpuType, ...] = ()

    def allows(self, groups: Iterable[str]) -> bool:
        """Whether a member of `groups` may use this profile (no allowed groups: everyone may)."""
        return not self.allowed_groups or not self.allowed_groups.isdisjoint(groups)

    def gpu_choices(self) -> list[int]:
        """GPU counts a user may pick for this profile (none for CPU profiles)."""
        return list(range(max(self.min_gpus, 1), self.gpus + 1))


@dataclass(frozen=True)
class GpuResources:
    """`singleuser.gpu`: what a lab with GPUs adds to the pod of any profile, and the GPU types."""

    resource_name: str
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    shm_size_limit: str
    types: Mapping[str, GpuType]

    @classmethod
    def from_values(cls, gpu: dict[str, Any]) -> GpuResources:
        return cls(
            resource_name=gpu["resourceName"],
            node_selector=dict(gpu["nodeSelector"]),
            tolerations=tuple(dict(toleration) for toleration in gpu["tolerations"]),
            shm_size_limit=str(gpu["shmSizeLimit"]),
            types={
                name: GpuType(
                    name=name,
                    display_name=spec["displayName"],
                    resource_name=spec["resourceName"],
                    node_selector=dict(spec.get("nodeSelector", {})),
                    tolerations=tuple(
                        dict(toleration) for toleration in spec.get("tolerations", [])
                    ),
                    description=spec.get("description", ""),
                    max_per_lab=spec.get("maxPerLab"),
                )
                for name, spec in gpu.get("types", {}).items()
            },
        )

    @property
    def default_kind(self) -> GpuType:
        """The kind of GPU profiles that name no type: `resourceName` on the GPU nodes."""
        return GpuType("", "GPU", self.resource_name, {})

    @property
    def resource_names(self) -> frozenset[str]:
        """Every resource that is a GPU here: the default's and each type's."""
        return frozenset({self.resource_name, *(t.resource_name for t in self.types.values())})

    def node_selector_of(self, kind: GpuType) -> dict[str, str]:
        """Where labs of `kind` run: the GPU nodes' labels and the type's own."""
        return {**self.node_selector, **kind.node_selector}

    def kubespawner_override(self, count: int, kind: GpuType | None = None) -> dict[str, Any]:
        """Traits for `count` GPUs of `kind` (default: the default kind); the spawner adds them
        to its configured maps and lists."""
        if not count:
            return {}
        kind = kind or self.default_kind
        shm = {"medium": "Memory", "sizeLimit": self.shm_size_limit}
        return {
            "extra_resource_limits": {kind.resource_name: str(count)},
            "node_selector": self.node_selector_of(kind),
            "tolerations": [
                dict(toleration) for toleration in (*self.tolerations, *kind.tolerations)
            ],
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
        gpu = GpuResources.from_values(singleuser["gpu"])
        return cls(
            profiles=tuple(
                _profile(entry, known_images, gpu) for entry in singleuser["profileList"]
            ),
            course_profiles=dict(singleuser.get("courseProfiles", {})),
            gpu=gpu,
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
        overrides = [profile.kubespawner_override for profile in self.profiles]
        overrides += [
            choice.kubespawner_override
            for profile in self.profiles
            for option in profile.options
            for choice in option.choices
        ]
        names = {name for override in overrides for name in override}
        return frozenset(names | set(self.gpu.kubespawner_override(1)))


def combined(*overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides applied in turn: a map is merged into the one before, a list extends it, and
    anything else replaces it (so GPUs add a toleration to those a profile sets)."""
    result: dict[str, Any] = {}
    for override in overrides:
        for name, value in override.items():
            result[name] = extended(result[name], value) if name in result else value
    return result


def extended(before: Any, value: Any) -> Any:
    """`value` applied over `before`: maps merged, lists concatenated, anything else replaced."""
    if isinstance(before, Mapping) and isinstance(value, Mapping):
        return {**before, **value}
    if isinstance(before, list) and isinstance(value, list):
        return [*before, *value]
    return value


def form_entries(offer: Offer, gpu_notes: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """KubeSpawner profile_list entries for the spawn form.

    They carry no kubespawner_override: the spawner applies the chosen profile itself, after
    checking the choice, so the form is only a view of the data. `gpu_notes` (GPU kind name ->
    what is free and what the user may still take) go into the kind's choice, or the description
    of a profile with one kind. KubeSpawner's template does not escape, so every text is escaped
    here.
    """
    notes = gpu_notes or {}
    preselected = offer.preselected
    entries = []
    for profile in offer.allowed:
        description = profile.description
        if len(profile.gpu_types) == 1 and profile.gpu_types[0].name in notes:
            description = " ".join(filter(None, [description, notes[profile.gpu_types[0].name]]))
        entry: dict[str, Any] = {
            "slug": profile.slug,
            "display_name": html.escape(profile.display_name),
            "description": html.escape(description),
            "default": profile is preselected,
        }
        options = {
            option.name: _form_option(
                option.display_name,
                {
                    choice.key: (choice.display_name, choice is option.default_choice)
                    for choice in option.choices
                },
            )
            for option in profile.options
        }
        if len(profile.gpu_types) > 1:
            options[GPU_TYPE_OPTION] = _form_option(
                "GPU type",
                {
                    kind.name: (
                        notes.get(kind.name, kind.display_name),
                        kind is profile.gpu_types[0],
                    )
                    for kind in profile.gpu_types
                },
            )
        if len(profile.gpu_choices()) > 1:
            options["gpus"] = _form_option(
                "GPUs",
                {
                    str(count): (f"{count} GPU" + ("s" if count > 1 else ""), count == profile.gpus)
                    for count in profile.gpu_choices()
                },
            )
        if options:
            entry["profile_options"] = options
        entries.append(entry)
    return entries


def _form_option(display_name: str, choices: Mapping[str, tuple[str, bool]]) -> dict[str, Any]:
    """A profile option as KubeSpawner's form takes it, from key -> (shown text, default)."""
    return {
        "display_name": html.escape(display_name),
        "choices": {
            key: {"display_name": html.escape(shown), "default": default}
            for key, (shown, default) in choices.items()
        },
    }


def _profile(entry: dict[str, Any], known_images: dict[str, Any], gpu: GpuResources) -> Profile:
    override: dict[str, Any] = {}
    for trait, path in OVERRIDE_PATHS.items():
        value = _lookup(entry, path)
        if value is not None:
            override[trait] = value
    if "image" in entry:
        image = known_images[entry["image"]]
        override["image"] = images.reference(image)
        override["image_pull_policy"] = image.get("pullPolicy", "IfNotPresent")
    override, override_gpus = _vetted_override(
        {**override, **entry.get("kubespawner_override", {})}, gpu.resource_names
    )
    gpus = entry.get("gpus", 0) or override_gpus
    return Profile(
        slug=profile_slug(entry),
        display_name=display_name(entry),
        description=entry.get("description", ""),
        default=entry.get("default", False),
        gpus=gpus,
        allowed_groups=frozenset(entry.get("allowedGroups", [])),
        kubespawner_override=override,
        options=tuple(
            _option(name, option, gpu.resource_names)
            for name, option in entry.get("profile_options", {}).items()
        ),
        min_gpus=override_gpus,
        gpu_types=_gpu_kinds(entry, gpu) if gpus else (),
    )


def _gpu_kinds(entry: dict[str, Any], gpu: GpuResources) -> tuple[GpuType, ...]:
    """A GPU profile's kinds: its gpuTypes, else the one type of the resource its override names,
    else the default kind (the cross-key checks refuse every other case)."""
    if "gpuTypes" in entry:
        return tuple(gpu.types[name] for name in entry["gpuTypes"])
    resource = _override_gpu_resource(entry, gpu.resource_names)
    named = [kind for kind in gpu.types.values() if kind.resource_name == resource]
    return tuple(named) or (gpu.default_kind,)


def _override_gpu_resource(entry: dict[str, Any], gpu_resources: frozenset[str]) -> str | None:
    """The GPU resource the entry's kubespawner_override sets a count of, if any."""
    limits = entry.get("kubespawner_override", {}).get("extra_resource_limits", {})
    return next((name for name in limits if name in gpu_resources), None)


def display_name(entry: dict[str, Any]) -> str:
    """The profile's name in the form, from either form of entry."""
    return entry.get("displayName") or entry.get("display_name") or ""


def profile_slug(entry: dict[str, Any]) -> str:
    """The entry's slug, else the one KubeSpawner derives from its display name."""
    return entry.get("slug") or slugify(display_name(entry))


def _option(name: str, option: dict[str, Any], gpu_resources: frozenset[str]) -> ProfileOption:
    choices = tuple(
        Choice(
            key=key,
            display_name=choice["display_name"],
            default=choice.get("default", False),
            kubespawner_override=_vetted_override(
                choice.get("kubespawner_override", {}), gpu_resources
            )[0],
        )
        for key, choice in option["choices"].items()
    )
    return ProfileOption(name, option["display_name"], choices)


def _vetted_override(
    override: dict[str, Any], gpu_resources: frozenset[str]
) -> tuple[dict[str, Any], int]:
    """The override with memory in bytes and the GPU resources taken out, and its GPU count.

    GPUs are applied by GpuResources (with their node selector, tolerations and /dev/shm) for
    the count the user was granted, so the override itself never sets the resource.
    """
    vetted = {
        name: memory_bytes(value) if name in MEMORY_TRAITS else value
        for name, value in override.items()
    }
    limits = dict(vetted.get("extra_resource_limits", {}))
    gpus = sum(whole_number(limits.pop(name, 0)) or 0 for name in gpu_resources & set(limits))
    if "extra_resource_limits" in vetted:
        vetted["extra_resource_limits"] = limits
    return vetted, gpus


def whole_number(value: Any) -> int | None:
    """A GPU count as a resource quantity gives it (1 or "1"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


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
    gpu = GpuResources.from_values(singleuser["gpu"])
    for index, entry in enumerate(singleuser["profileList"]):
        at = ["singleuser", "profileList", index]
        names = [key for key in ("displayName", "display_name") if key in entry]
        if len(names) != 1:
            problems.append(
                f"{values.location(at)}: give the profile one name, displayName (this chart's "
                "form) or display_name (KubeSpawner's form), not "
                + (" and ".join(names) if names else "neither")
            )
        slug = profile_slug(entry)
        if not slug:
            problems.append(
                f"{values.location([*at, 'slug'])}: no slug can be derived from the display "
                f"name {display_name(entry)!r}; set slug"
            )
        elif slug in first_with_slug:
            first = values.location(["singleuser", "profileList", first_with_slug[slug]])
            problems.append(
                f"{values.location([*at, 'slug'])}: duplicate "
                f"slug {slug!r}, already the slug of {first}; give each profile its own slug"
            )
        first_with_slug.setdefault(slug, index)
        image = entry.get("image")
        if image is not None and image not in known_images:
            problems.append(
                f"{values.location([*at, 'image'])}: unknown image "
                f"key {image!r} (keys of singleuser.images: {image_keys})"
            )
        problems += _gpu_problems(entry, at, gpu)
    slugs = ", ".join(first_with_slug)
    for course, slug in singleuser.get("courseProfiles", {}).items():
        if slug not in first_with_slug:
            problems.append(
                f"{values.location(['singleuser', 'courseProfiles', course])}: unknown profile "
                f"slug {slug!r} (slugs of singleuser.profileList: {slugs})"
            )
    return problems


def _gpu_problems(entry: dict[str, Any], at: list[str | int], gpu: GpuResources) -> list[str]:
    """GPUs are given once per profile, as a whole number, only as a limit, of one known kind."""
    override = entry.get("kubespawner_override", {})
    problems = []
    limits = override.get("extra_resource_limits", {})
    named = sorted(gpu.resource_names & set(limits))
    for resource in named:
        limits_at = [*at, "kubespawner_override", "extra_resource_limits", resource]
        count = limits[resource]
        if whole_number(count) is None:
            problems.append(
                f'{values.location(limits_at)}: {count!r} is not a whole number of GPUs such as "1"'
            )
        if entry.get("gpus"):
            problems.append(
                f"{values.location(limits_at)}: the profile also sets gpus; give the GPU count once"
            )
    if len(named) > 1:
        problems.append(
            f"{values.location([*at, 'kubespawner_override', 'extra_resource_limits'])}: names "
            f"several GPU resources ({', '.join(named)}); give one, and offer more kinds through "
            "gpuTypes"
        )
    guarantees = sorted(gpu.resource_names & set(override.get("extra_resource_guarantees", {})))
    if guarantees:
        problems.append(
            f"{values.location([*at, 'kubespawner_override', 'extra_resource_guarantees'])}: "
            f"{', '.join(guarantees)} is set in extra_resource_limits only (Kubernetes requests "
            "as many)"
        )
    for name, option in entry.get("profile_options", {}).items():
        for key, choice in option["choices"].items():
            choice_override = choice.get("kubespawner_override", {})
            resources = {
                *choice_override.get("extra_resource_limits", {}),
                *choice_override.get("extra_resource_guarantees", {}),
            }
            for resource in sorted(gpu.resource_names & resources):
                problems.append(
                    f"{values.location([*at, 'profile_options', name, 'choices', key])}: a "
                    f"choice cannot set {resource}; give the profile its GPUs, so that the "
                    "GPU quota counts them"
                )
    return problems + _gpu_type_problems(entry, at, gpu, named)


def _gpu_type_problems(
    entry: dict[str, Any], at: list[str | int], gpu: GpuResources, named: list[str]
) -> list[str]:
    """gpuTypes name known types of a GPU profile, agreeing with the resource its override
    names; without gpuTypes, that resource must be of one type at most."""
    type_names = ", ".join(gpu.types) or "none"
    has_gpus = bool(entry.get("gpus")) or any(
        whole_number(entry["kubespawner_override"]["extra_resource_limits"][name]) for name in named
    )
    if "gpuTypes" not in entry:
        resource = named[0] if len(named) == 1 else None
        sharing = [name for name, kind in gpu.types.items() if kind.resource_name == resource]
        if len(sharing) > 1:
            limits_at = [*at, "kubespawner_override", "extra_resource_limits", resource]
            return [
                f"{values.location(limits_at)}: the GPU types {', '.join(sharing)} all use "
                f"{resource}; say which this profile offers in gpuTypes"
            ]
        return []
    problems = []
    types_at = [*at, "gpuTypes"]
    # A count in kubespawner_override is exactly what every lab of the profile asks for.
    exact = (
        whole_number(entry["kubespawner_override"]["extra_resource_limits"][named[0]])
        if len(named) == 1
        else None
    )
    if not has_gpus:
        problems.append(
            f"{values.location(types_at)}: the profile has no GPUs; set gpus (or its "
            "extra_resource_limits), or remove gpuTypes"
        )
    for position, name in enumerate(entry["gpuTypes"]):
        kind = gpu.types.get(name)
        if kind is None:
            problems.append(
                f"{values.location([*types_at, position])}: unknown GPU type {name!r} (keys of "
                f"singleuser.gpu.types: {type_names})"
            )
        elif len(named) == 1 and kind.resource_name != named[0]:
            problems.append(
                f"{values.location([*types_at, position])}: the GPU type {name!r} uses "
                f"{kind.resource_name}, but kubespawner_override.extra_resource_limits sets "
                f"{named[0]}; list only types of that resource, or use gpus instead"
            )
        elif exact and kind.max_per_lab and exact > kind.max_per_lab:
            problems.append(
                f"{values.location([*types_at, position])}: the GPU type {name!r} gives at most "
                f"{kind.max_per_lab} GPU per lab (singleuser.gpu.types.{name}.maxPerLab), but the "
                f"profile has exactly {exact}; lower the count or list another type"
            )
    return problems
