"""Declarative mapping from Keycloak groups and LTI roles/context to JupyterHub groups.

A login grants a set of groups (its entitlements). The user's JupyterHub groups are the union of
what each source last granted: a Keycloak login replaces the Keycloak share; LTI launches add to
the LTI share, because each launch shows only the one course it came from.
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

# auth_state key holding each source's share of the user's groups.
GRANTS_KEY = "grants"
_LTI_SHARE = "lti"

_UNSAFE_GROUP_CHARACTERS = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class LoginFacts:
    """What a login says about the person, as far as entitlements are concerned."""

    source: str
    keycloak_groups: frozenset[str] = frozenset()
    lti_roles: tuple[str, ...] = ()
    context_id: str | None = None


def validate_rules(rules: Any, admin_group: str) -> list[dict[str, Any]]:
    """Check rules against the schema; admin may only come from Keycloak groups.

    Raises ValueError naming the offending rule and what to change.
    """
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


def split_lti11_roles(roles: str) -> tuple[str, ...]:
    """LTI 1.1 sends roles as one comma-separated string."""
    return tuple(role.strip() for role in roles.split(",") if role.strip())


def safe_group_name(text: str) -> str:
    """Group-name-safe form of an external identifier (course ids may hold any character)."""
    return _UNSAFE_GROUP_CHARACTERS.sub("-", text.strip().lower()).strip("-")


def course_group(context_id: str, group_format: str) -> str:
    return group_format.format(context_id=safe_group_name(context_id))


def _role_matches(wanted: Iterable[str], roles: Iterable[str]) -> bool:
    have = {role.casefold() for role in roles} | {role_short_name(r).casefold() for r in roles}
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
            in_course = "lti_context_ids" not in rule or facts.context_id in rule["lti_context_ids"]
            matched = is_lti and in_course and _role_matches(rule["lti_roles"], facts.lti_roles)
        if matched:
            granted.update(rule["grant"])
    if is_lti and facts.context_id and course_group_format:
        granted.add(course_group(facts.context_id, course_group_format))
    return sorted(granted)


def merge_grants(
    previous: Mapping[str, Any] | None, source: str, granted: Iterable[str]
) -> dict[str, list[str]]:
    """Each source's share after this login (see the module docstring for the rule)."""
    grants = {key: list(value) for key, value in (previous or {}).items()}
    if source == KEYCLOAK:
        grants[KEYCLOAK] = sorted(set(granted))
    else:
        grants[_LTI_SHARE] = sorted(set(grants.get(_LTI_SHARE, [])) | set(granted))
    return grants


def groups_from_grants(grants: Mapping[str, Iterable[str]], admin_group: str) -> list[str]:
    """The user's JupyterHub groups; admin only counts from the Keycloak share."""
    groups: set[str] = set()
    for share, names in grants.items():
        groups.update(name for name in names if share == KEYCLOAK or name != admin_group)
    return sorted(groups)
