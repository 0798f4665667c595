"""Environment variables that tell a user's server how its user signed in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .auth_state import COURSE, ENTITLEMENTS, LOGIN_SOURCE, Course


def spawn_environment(auth_state: Mapping[str, Any]) -> dict[str, str]:
    """JUPYTERHUB_LOGIN_SOURCE (keycloak, lti11, lti13), JUPYTERHUB_ENTITLEMENTS (the groups
    this login granted, comma-separated), JUPYTERHUB_COURSE_ID and JUPYTERHUB_COURSE_TITLE
    (the LTI course launched from; empty otherwise)."""
    course: Course | None = auth_state.get(COURSE)
    return {
        "JUPYTERHUB_LOGIN_SOURCE": auth_state.get(LOGIN_SOURCE, ""),
        "JUPYTERHUB_ENTITLEMENTS": ",".join(auth_state.get(ENTITLEMENTS, [])),
        "JUPYTERHUB_COURSE_ID": course["context_id"] if course else "",
        "JUPYTERHUB_COURSE_TITLE": course["title"] if course else "",
    }
