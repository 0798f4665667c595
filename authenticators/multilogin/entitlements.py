"""Declarative mapping from Keycloak groups and LTI roles/courses to JupyterHub groups.

A login grants a set of groups (its entitlements). The user's JupyterHub groups are the union of
each source's share: the Keycloak share is what Keycloak said at the last login or refresh; the
LTI share is kept per course (each launch shows only the course it came from), replaced by the
next launch from that course, and expires a while after the last one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import schemas

KEYCLOAK = "keycloak"
LTI11 = "lti11"
LTI13 = "lti13"

_LTI_SHARE = "lti"

_UNSAFE_GROUP_CHARACTERS = re.compile(r"[^a-z0-9._-]+")

# Roles a person holds in the course they launched from. Institution roles (`.../institution/
# person#Instructor`, `urn:lti:instrole:...`) and system roles say what the person is elsewhere
# on the platform: a student who teaches one course somewhere is no teacher of this one.
_COURSE_ROLE_PREFIXES = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/",
    "urn:lti:role:ims/lis/",
)


@dataclass(frozen=True)
class LoginFacts:
    """What a login says about the person, as far as entitlements are concerned.

    `platform` is the operator's name for the LTI platform (see platform_trust); the course is
    the pair (platform, context_id).
    """

    source: str
    keycloak_groups: frozenset[str] = frozenset()
    lti_roles: tuple[str, ...] = ()
    context_id: str | None = None
    platform: str | None = None

    @property
    def course_key(self) -> str | None:
        """`<platform>/<context_id>`: how rules, groups and the hub name a course."""
        if not (self.platform and self.context_id):
            return None
        return course_key(self.platform, self.context_id)


def course_key(platform: str, context_id: str) -> str:
    return f"{platform}/{context_id}"


def validate_rules(rules: Any, admin_group: str) -> list[dict[str, Any]]:
    """Check rules against the schema; admin may only come from Keycloak groups.

    Raises ValueError naming the offending rule and what to change.
    """
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, Mapping) and "lti_context_ids" in rule:
            raise ValueError(
                f"entitlement_rules/{index} uses lti_context_ids, which named a course without its "
                "platform; use lti_courses with entries `<platform>/<context_id>` (e.g. "
                "moodle/101, the platform's name as in LTI11Login.consumer_trust or "
                "LTI13Login.platforms)"
            )
    schemas.validate(rules, "entitlement_rules.schema.json", "entitlement_rules")
    for index, rule in enumerate(rules):
        if "lti_roles" in rule and admin_group in rule["grant"]:
            raise ValueError(
                f"entitlement_rules/{index} grants {admin_group!r} from LTI roles; "
                "admin may only come from a Keycloak group (use keycloak_groups)"
            )
    return rules


def role_short_name(role: str) -> str:
    """`Instructor` from `http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor`,
    `urn:lti:role:ims/lis/Instructor` or `Instructor`."""
    return re.split(r"[#/:]", role.strip())[-1]


def is_course_role(role: str) -> bool:
    """A role in the launch's course (context): a short name or a membership role URI."""
    role = role.strip()
    if not re.search(r"[#/:]", role):
        return True
    return role.startswith(_COURSE_ROLE_PREFIXES)


def split_lti11_roles(roles: str) -> tuple[str, ...]:
    """LTI 1.1 sends roles as one comma-separated string."""
    return tuple(role.strip() for role in roles.split(",") if role.strip())


def safe_group_name(text: str) -> str:
    """Group-name-safe form of an external identifier (course ids may hold any character)."""
    return _UNSAFE_GROUP_CHARACTERS.sub("-", text.strip().lower()).strip("-")


def course_group(platform: str, context_id: str, group_format: str) -> str:
    """The course's group. Platform names hold no `.`, so `course-{platform}.{context_id}`
    cannot name two courses of different platforms alike."""
    return group_format.format(platform=platform, context_id=safe_group_name(context_id))


def _role_matches(wanted: Iterable[str], roles: Iterable[str]) -> bool:
    course_roles = [role for role in roles if is_course_role(role)]
    have = {role.casefold() for role in course_roles}
    have |= {role_short_name(role).casefold() for role in course_roles}
    return any(w.casefold() in have or role_short_name(w).casefold() in have for w in wanted)


def entitlements_for(
    facts: LoginFacts, rules: Iterable[Mapping[str, Any]], course_group_format: str | None
) -> list[str]:
    """Sorted group names this login grants."""
    granted: set[str] = set()
    is_lti = facts.source in (LTI11, LTI13)
    for rule in rules:
        if "keycloak_groups" in rule:
            matched = facts.source == KEYCLOAK and bool(
                facts.keycloak_groups & set(rule["keycloak_groups"])
            )
        else:
            in_course = "lti_courses" not in rule or facts.course_key in rule["lti_courses"]
            matched = is_lti and in_course and _role_matches(rule["lti_roles"], facts.lti_roles)
        if matched:
            granted.update(rule["grant"])
    if is_lti and facts.platform and facts.context_id and course_group_format:
        granted.add(course_group(facts.platform, facts.context_id, course_group_format))
    return sorted(granted)


def merge_grants(
    previous: Mapping[str, Any] | None,
    facts: LoginFacts,
    granted: Iterable[str],
    now: float,
) -> dict[str, Any]:
    """Each source's share after this login (see the module docstring for the rule).

    An LTI launch without a course grants nothing that lasts: its share would have no course to
    expire with.
    """
    grants = _current_form(previous)
    if facts.source == KEYCLOAK:
        grants[KEYCLOAK] = sorted(set(granted))
    elif facts.course_key:
        grants[_LTI_SHARE][facts.course_key] = {"groups": sorted(set(granted)), "at": now}
    return grants


def without_keycloak_share(grants: Mapping[str, Any] | None) -> dict[str, Any]:
    """The grants once Keycloak no longer vouches for the person (refresh failed, link gone)."""
    current = _current_form(grants)
    current.pop(KEYCLOAK, None)
    return current


def unexpired(grants: Mapping[str, Any] | None, now: float, lifetime_s: float) -> dict[str, Any]:
    """The grants without the course shares whose last launch is older than `lifetime_s`."""
    current = _current_form(grants)
    current[_LTI_SHARE] = {
        course: share
        for course, share in current[_LTI_SHARE].items()
        if now - share["at"] <= lifetime_s
    }
    return current


def groups_from_grants(grants: Mapping[str, Any], admin_group: str, source: str) -> list[str]:
    """The user's JupyterHub groups. The admin group only counts from the Keycloak share, and
    only in a Keycloak session: an LTI session never carries admin."""
    current = _current_form(grants)
    groups = {
        name
        for share in current[_LTI_SHARE].values()
        for name in share["groups"]
        if name != admin_group
    }
    groups.update(
        name for name in current.get(KEYCLOAK, ()) if source == KEYCLOAK or name != admin_group
    )
    return sorted(groups)


def _current_form(grants: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy in today's form. Earlier versions kept one LTI list for all courses, with no
    launch times; it is dropped rather than kept for ever (the next launch grants it again)."""
    grants = grants or {}
    current: dict[str, Any] = {}
    if KEYCLOAK in grants:
        current[KEYCLOAK] = list(grants[KEYCLOAK])
    lti = grants.get(_LTI_SHARE)
    current[_LTI_SHARE] = (
        {course: dict(share) for course, share in lti.items()} if isinstance(lti, Mapping) else {}
    )
    return current
