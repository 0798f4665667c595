"""What the hub reads from the authenticator's auth_state, declared once.

The authenticator (multilogin) writes auth_state; the hub does not import it, so the keys it
reads are named here, and `hub/tests/test_auth_state_contract.py` checks them against what the
authenticator's logins record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The LTI course of the user's latest launch: a dict, or null after a campus (Keycloak) login.
COURSE = "course"
# In COURSE: the course key, `<platform>/<context_id>`, as `courseProfiles` names courses.
COURSE_KEY = "key"


def course_key(auth_state: Mapping[str, Any] | None) -> str | None:
    """The course key of the user's latest LTI launch, if any.

    A login recorded before course keys (a course with only `context_id`) counts as no course
    until the next launch.
    """
    course = (auth_state or {}).get(COURSE)
    key = course.get(COURSE_KEY) if isinstance(course, Mapping) else None
    return key if isinstance(key, str) and key else None
