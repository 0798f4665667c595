"""Check `user_options` from the form or the REST API against the profiles a user may use.

Anything not understood is refused rather than ignored, so a tampered request never gets more
than the form offers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hubconfig.profiles import Offer, Profile
from hubconfig.refusals import bad_request, forbidden

KNOWN_OPTIONS = ("profile", "gpus")


@dataclass(frozen=True)
class Selection:
    """A checked request: the profile to run, the GPUs it gets, and the spawner traits for both."""

    profile: Profile
    gpus: int
    kubespawner_override: Mapping[str, Any]


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
    gpus = _gpus(options.get("gpus"), profile)
    override = {**profile.kubespawner_override, **offer.catalogue.gpu.kubespawner_override(gpus)}
    return Selection(profile, gpus, override)


def _checked_mapping(user_options: Any) -> dict[str, Any]:
    if user_options is None:
        return {}
    if not isinstance(user_options, dict):
        raise bad_request('Server options must be a JSON object such as {"profile": "cpu"}.')
    unknown = sorted(str(key) for key in user_options if key not in KNOWN_OPTIONS)
    if unknown:
        raise bad_request(
            f"Unknown server option(s): {', '.join(unknown)}. "
            f"Only {' and '.join(KNOWN_OPTIONS)} may be given."
        )
    return user_options


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


def _gpus(requested: Any, profile: Profile) -> int:
    """The GPU count asked for: none given means the profile's; 0 is accepted for a CPU profile,
    since it is exactly what that profile has."""
    if requested is None or requested == "":
        return profile.gpus
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
    if count < 1 and profile.gpus:
        raise bad_request(f"Ask for between 1 and {profile.gpus} GPU(s), not {count}.")
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
