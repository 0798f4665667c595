"""Lab profiles as data: which a user may use, which one is preselected, and the form's entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hubconfig import images
from hubconfig.values import ValuesError


@dataclass(frozen=True)
class Profile:
    """One entry of `singleuser.profileList`, with the chart's defaults filled in."""

    slug: str
    display_name: str
    description: str
    default: bool
    image: str
    image_pull_policy: str
    cpu_guarantee: float | None
    cpu_limit: float
    mem_guarantee: str | None
    mem_limit: str
    gpus: int
    allowed_groups: frozenset[str]
    start_timeout: int
    http_timeout: int

    @classmethod
    def from_values(cls, entry: dict[str, Any], singleuser: dict[str, Any]) -> Profile:
        """Build a profile from its values entry; `singleuser` supplies image and timeouts."""
        image = _image(entry, singleuser)
        return cls(
            slug=entry["slug"],
            display_name=entry["displayName"],
            description=entry.get("description", ""),
            default=entry.get("default", False),
            image=images.reference(image),
            image_pull_policy=image.get("pullPolicy", "IfNotPresent"),
            cpu_guarantee=entry["cpu"].get("guarantee"),
            cpu_limit=entry["cpu"]["limit"],
            mem_guarantee=entry["memory"].get("guarantee"),
            mem_limit=entry["memory"]["limit"],
            gpus=entry.get("gpus", 0),
            allowed_groups=frozenset(entry.get("allowedGroups", [])),
            start_timeout=entry.get("startTimeout", singleuser["startTimeout"]),
            http_timeout=entry.get("httpTimeout", singleuser["httpTimeout"]),
        )

    def allows(self, groups: Iterable[str]) -> bool:
        """Whether a member of `groups` may use this profile (no allowed groups: everyone may)."""
        return not self.allowed_groups or not self.allowed_groups.isdisjoint(groups)

    def gpu_choices(self) -> list[int]:
        """GPU counts a user may pick for this profile (none for CPU profiles)."""
        return list(range(1, self.gpus + 1))


def _image(entry: dict[str, Any], singleuser: dict[str, Any]) -> dict[str, Any]:
    key = entry.get("image")
    if key is None:
        return singleuser["image"]
    known = singleuser.get("images", {})
    if key not in known:
        raise ValuesError(
            f"profile {entry['slug']!r} names image {key!r}, which is not a key of "
            f"singleuser.images (keys: {', '.join(sorted(known)) or 'none'})"
        )
    return known[key]


class ProfileCatalogue:
    """Every configured profile plus the LTI course key (`<platform>/<context_id>`) -> profile
    mapping."""

    def __init__(self, profiles: list[Profile], course_profiles: dict[str, str]) -> None:
        self.profiles = profiles
        self.course_profiles = course_profiles

    @classmethod
    def from_values(cls, singleuser: dict[str, Any]) -> ProfileCatalogue:
        profiles = [Profile.from_values(entry, singleuser) for entry in singleuser["profileList"]]
        return cls(profiles, dict(singleuser.get("courseProfiles", {})))

    def by_slug(self, slug: str) -> Profile | None:
        return next((profile for profile in self.profiles if profile.slug == slug), None)

    def allowed(self, groups: Iterable[str]) -> list[Profile]:
        """The profiles a member of `groups` may use, in configured order."""
        group_set = set(groups)
        return [profile for profile in self.profiles if profile.allows(group_set)]

    def course_profile(self, course_key: str | None, allowed: list[Profile]) -> Profile | None:
        """The profile an LTI course maps to, if the user may use it."""
        slug = self.course_profiles.get(course_key) if course_key else None
        return next((profile for profile in allowed if profile.slug == slug), None)

    def preselected(self, allowed: list[Profile], course_key: str | None) -> Profile | None:
        """The course's profile, else the first allowed default one, else the first allowed."""
        course = self.course_profile(course_key, allowed)
        if course:
            return course
        return next((profile for profile in allowed if profile.default), None) or next(
            iter(allowed), None
        )


def form_entries(allowed: list[Profile], preselected: Profile | None) -> list[dict[str, Any]]:
    """KubeSpawner profile_list entries for the spawn form.

    They carry no kubespawner_override: the spawner applies the chosen profile itself, after
    checking the choice, so the form is only a view of the data.
    """
    entries = []
    for profile in allowed:
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
