"""What a validated LTI launch hands to MultiLoginAuthenticator.authenticate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .entitlements import LoginFacts


@dataclass(frozen=True)
class ValidatedLaunch:
    """An LTI launch whose signature, trust and replay checks all passed.

    Only the launch handlers build it, after validation, so authenticate() can tell a checked
    launch from form data.
    """

    username: str
    # Who the person is at the platform: LTI 1.1 (consumer key, "", user_id); LTI 1.3
    # (iss, the matched client id, sub).
    issuer: str
    client_id: str
    subject: str
    facts: LoginFacts
    course: dict[str, str] | None
    next_url: str | None
    # Launch parameters or id_token claims, kept in auth_state for the spawner.
    launch_data: dict[str, Any] = field(default_factory=dict)
