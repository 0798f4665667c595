"""Check `user_options` from the form or the REST API against the profiles a user may use.

Anything not understood is refused rather than ignored, so a tampered request never gets more
than the form offers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hubconfig.profiles import (
    GPU_TYPE_OPTION,
    Choice,
    GpuType,
    Offer,
    Profile,
    ProfileCatalogue,
    ProfileOption,
    combined,
)
from hubconfig.refusals import bad_request, forbidden

# Options of every profile; a profile's `profile_options` add their names.
KNOWN_OPTIONS = ("profile", GPU_TYPE_OPTION, "gpus")


@dataclass(frozen=True)
class Selection:
    """A checked request: the profile to run, the GPUs it gets and their kind, and the spawner
    traits for the profile, the choices of its options and the GPUs."""

    profile: Profile
    gpus: int
    kubespawner_override: Mapping[str, Any]
    gpu_type: GpuType | None = None

    @property
    def gpu_resource(self) -> str | None:
        """The resource the lab's GPUs are counted in; None without GPUs."""
        return self.gpu_type.resource_name if self.gpus and self.gpu_type else None


def no_profile_message(groups: Iterable[str]) -> str:
    names = ", ".join(sorted(groups)) or "none"
    return (
        "No lab profile is available to your account (your groups: "
        f"{names}). Open the lab from your course in Moodle, or ask the course's teachers or the "
        "hub's administrators to grant you access."
    )


def select(user_options: Any, offer: Offer) -> Selection:
    """The selection `user_options` asks for, or SpawnRefused saying why it is not allowed."""
    options = _checked_mapping(user_options)
    if not offer.allowed:
        raise forbidden(no_profile_message(offer.groups))
    profile = _profile(options.get("profile"), offer)
    _refuse_unknown(options, profile)
    gpu_type = _gpu_type(options.get(GPU_TYPE_OPTION), profile, offer.catalogue)
    gpus = _gpus(options.get("gpus"), profile, gpu_type)
    choices = [_choice(options.get(option.name), option) for option in profile.options]
    override = combined(
        profile.kubespawner_override,
        *(choice.kubespawner_override for choice in choices),
        offer.catalogue.gpu.kubespawner_override(gpus, gpu_type),
    )
    return Selection(profile, gpus, override, gpu_type)


def _checked_mapping(user_options: Any) -> dict[str, Any]:
    if user_options is None:
        return {}
    if not isinstance(user_options, dict):
        raise bad_request('Server options must be a JSON object such as {"profile": "cpu"}.')
    return user_options


def _refuse_unknown(options: dict[str, Any], profile: Profile) -> None:
    """Only the options this profile has; KubeSpawner's free-text `<option>--unlisted-choice`
    is one of the refused ones, since no profile offers free text."""
    known = [*KNOWN_OPTIONS, *(option.name for option in profile.options)]
    unknown = sorted(str(key) for key in options if key not in known)
    if unknown:
        raise bad_request(
            f"Unknown server option(s): {', '.join(unknown)}. "
            f"Only {', '.join(known[:-1])} and {known[-1]} may be given"
            + (f" for the profile {profile.display_name!r}." if profile.options else ".")
        )


def _choice(key: Any, option: ProfileOption) -> Choice:
    if key is None or key == "":
        return option.default_choice
    keys = ", ".join(choice.key for choice in option.choices)
    choice = option.choice(key) if isinstance(key, str) else None
    if choice is None:
        raise bad_request(
            f"{key!r} is not a choice of {option.display_name!r}. Choose one of: {keys}."
        )
    return choice


def _profile(slug: Any, offer: Offer) -> Profile:
    choices = ", ".join(profile.slug for profile in offer.allowed)
    if slug is None or slug == "":
        return offer.preselected or offer.allowed[0]
    if not isinstance(slug, str):
        raise bad_request(f"The profile must be given by its name (one of: {choices}).")
    profile = offer.catalogue.by_slug(slug)
    if profile is None:
        raise bad_request(f"There is no profile named {slug!r}. Choose one of: {choices}.")
    if not profile.allows(offer.groups):
        needed = ", ".join(sorted(profile.allowed_groups))
        raise forbidden(
            f"The profile {profile.display_name!r} is only for members of: {needed}. "
            f"Profiles available to you: {choices}."
        )
    return profile


def _gpu_type(name: Any, profile: Profile, catalogue: ProfileCatalogue) -> GpuType | None:
    """The GPU kind asked for: none given means the profile's first; only its own kinds."""
    if name is None or name == "":
        return next(iter(profile.gpu_types), None)
    offered = ", ".join(kind.name for kind in profile.gpu_types if kind.name)
    if not isinstance(name, str):
        raise bad_request(
            f"The GPU type must be given by its name (one of: {offered or 'none'}), not {name!r}."
        )
    kind = next((kind for kind in profile.gpu_types if kind.name == name), None)
    if kind is not None:
        return kind
    if not profile.gpu_types:
        raise forbidden(f"The profile {profile.display_name!r} has no GPUs; choose a GPU profile.")
    if name not in catalogue.gpu.types:
        raise bad_request(
            f"There is no GPU type named {name!r}. Choose one of: {offered or 'none'}."
        )
    raise forbidden(
        f"The profile {profile.display_name!r} does not offer the GPU type {name!r}; "
        f"it offers: {offered or 'its default GPUs only'}."
    )


def _gpus(requested: Any, profile: Profile, kind: GpuType | None) -> int:
    """The GPU count asked for: none given means the profile's, or the most one lab of `kind`
    may take if that is less; 0 is accepted for a CPU profile, since it is exactly what that
    profile has."""
    most = kind.max_per_lab if kind else None
    if requested is None or requested == "":
        return min(profile.gpus, most or profile.gpus)
    count = _as_count(requested)
    if count is None:
        raise bad_request(
            "The GPU count must be a whole number written with the digits 0-9, such as 1; "
            f"{requested!r} is not."
        )
    if count < 0:
        raise bad_request(f"The GPU count cannot be negative; {count} was requested.")
    if profile.gpus == 0 and count > 0:
        raise forbidden(f"The profile {profile.display_name!r} has no GPUs; choose a GPU profile.")
    if count > profile.gpus:
        raise forbidden(
            f"The profile {profile.display_name!r} offers at most {profile.gpus} GPU(s); "
            f"{count} were requested."
        )
    if kind and most and count > most:
        # Refused before the quota and the pod: the device plugin would refuse the pod anyway,
        # leaving a lab that never starts.
        raise bad_request(
            f"The GPU type {kind.name!r} ({kind.display_name}) gives at most {most} GPU per lab; "
            f"{count} were requested."
        )
    counts = profile.gpu_choices()
    if count < min(counts, default=0):
        if len(counts) > 1:
            raise bad_request(f"Ask for between 1 and {profile.gpus} GPU(s), not {count}.")
        raise bad_request(
            f"The profile {profile.display_name!r} has exactly {profile.gpus} GPU(s); ask for "
            f"{profile.gpus} or leave the count out, not {count}."
        )
    return count


# ASCII digits only: str.isdigit() also accepts "²" (int() then raises) and other scripts' digits,
# and int() accepts signs, spaces and underscores. The length bound keeps int() below Python's
# limit on digits; no profile offers that many GPUs anyway.
_COUNT = re.compile(r"[0-9]{1,9}")


def _as_count(value: Any) -> int | None:
    """Form data arrives as strings and JSON as numbers; bools and fractions are not counts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _COUNT.fullmatch(value):
        return int(value)
    return None
