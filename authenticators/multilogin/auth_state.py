"""auth_state: what MultiLoginAuthenticator keeps about each user's login, encrypted in the hub
database. Its keys are declared here and nowhere else in this package: JupyterHub hands
auth_state over as a plain dict, so code names its keys by the constants below; a course is
built and read as the `Course` typed dict.

The hub configuration reads part of it (the course key) without importing this package: it
declares what it reads in `hubconfig/auth_state.py`, and `hub/tests/test_auth_state_contract.py`
checks that what the logins here record is what the hub reads.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Course(TypedDict):
    """The LTI course of the latest launch."""

    # `<platform>/<context_id>`: how entitlement rules, groups and the chart name a course.
    key: str
    platform: str
    context_id: str
    title: str


class KeycloakTokens(TypedDict, total=False):
    """A Keycloak login's part: oauthenticator's auth_state and when the person signed in.

    Later LTI launches of the same account keep it, so Keycloak's say (admin, GPU groups) keeps
    being refreshed, and goes when Keycloak stops vouching for the person.
    """

    access_token: str
    refresh_token: str
    id_token: str
    scope: list[str]
    token_response: dict[str, Any]
    oauth_user: dict[str, Any]
    # When the person last gave Keycloak their password (a token refresh is no new sign-in).
    keycloak_authenticated_at: float


class LoginRecord(TypedDict):
    """What every login records, whatever its source."""

    login_source: str
    # Sorted groups this login granted.
    entitlements: list[str]
    course: Course | None
    lti_roles: list[str]
    # Each source's share of the user's groups (entitlements.merge_grants).
    grants: dict[str, Any]


class AuthState(LoginRecord, KeycloakTokens, total=False):
    """A user's whole auth_state."""

    # An LTI launch's parameters (without `oauth_*`) or id_token claims.
    lti_launch: dict[str, Any]


LOGIN_SOURCE = "login_source"
ENTITLEMENTS = "entitlements"
COURSE = "course"
GRANTS = "grants"
LTI_LAUNCH = "lti_launch"
TOKEN_RESPONSE = "token_response"  # noqa: S105 - a key name, not a secret
ID_TOKEN = "id_token"  # noqa: S105 - a key name, not a secret
KEYCLOAK_AUTHENTICATED_AT = "keycloak_authenticated_at"
KEYCLOAK_KEYS: tuple[str, ...] = tuple(KeycloakTokens.__annotations__)


def login_record(
    source: str,
    entitlements: list[str],
    course: Course | None,
    lti_roles: list[str],
    grants: dict[str, Any],
) -> LoginRecord:
    return LoginRecord(
        login_source=source,
        entitlements=entitlements,
        course=course,
        lti_roles=lti_roles,
        grants=grants,
    )


def keycloak_part(auth_state: dict[str, Any]) -> dict[str, Any]:
    """The Keycloak login's keys present in `auth_state`."""
    return {key: auth_state[key] for key in KEYCLOAK_KEYS if key in auth_state}


def without_keycloak_part(auth_state: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in auth_state.items() if key not in KEYCLOAK_KEYS}


def holds_keycloak_login(auth_state: dict[str, Any]) -> bool:
    """Whether the session holds Keycloak tokens (a Keycloak login, or LTI launches after one)."""
    return bool(auth_state.get(TOKEN_RESPONSE))
