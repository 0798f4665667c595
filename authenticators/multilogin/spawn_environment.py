"""Environment variables that tell a user's server how its user signed in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def spawn_environment(auth_state: Mapping[str, Any]) -> dict[str, str]:
    """JUPYTERHUB_LOGIN_SOURCE (keycloak, lti11, lti13), JUPYTERHUB_ENTITLEMENTS (the groups
    this login granted, comma-separated), JUPYTERHUB_COURSE_ID and JUPYTERHUB_COURSE_TITLE
    (the LTI course launched from; empty otherwise)."""
    course = auth_state.get("course") or {}
    return {
        "JUPYTERHUB_LOGIN_SOURCE": auth_state.get("login_source", ""),
        "JUPYTERHUB_ENTITLEMENTS": ",".join(auth_state.get("entitlements", [])),
        "JUPYTERHUB_COURSE_ID": course.get("context_id", ""),
        "JUPYTERHUB_COURSE_TITLE": course.get("title", ""),
    }
