"""Moodle's role names on the wire, per LTI version, for the roles the configuration names."""

from __future__ import annotations

from collections.abc import Iterable

LIS = "http://purl.imsglobal.org/vocab/lis/v2"

# Moodle sends a site administrator both the system and the institution administrator role.
LTI11_ROLES = {
    "Learner": ("Learner",),
    "Instructor": ("Instructor",),
    "Administrator": (
        "urn:lti:sysrole:ims/lis/Administrator",
        "urn:lti:instrole:ims/lis/Administrator",
    ),
}
LTI13_ROLES = {
    "Learner": (f"{LIS}/membership#Learner",),
    "Instructor": (f"{LIS}/membership#Instructor",),
    "Administrator": (
        f"{LIS}/system/person#Administrator",
        f"{LIS}/institution/person#Administrator",
    ),
}


def lti11_roles(roles: Iterable[str]) -> str:
    """The comma-separated `roles` parameter of an LTI 1.1 launch."""
    return ",".join(name for role in roles for name in LTI11_ROLES[role])


def lti13_roles(roles: Iterable[str]) -> list[str]:
    """The roles claim of an LTI 1.3 id_token."""
    return [uri for role in roles for uri in LTI13_ROLES[role]]
