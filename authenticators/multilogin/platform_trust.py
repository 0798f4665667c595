"""What an LTI platform may assert about who a person is (its trust), from the operator's
configuration: per LTI 1.1 consumer key (`LTI11Login.consumer_trust`) and per LTI 1.3 platform
(the same keys in each `LTI13Login.platforms` entry)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from . import schemas

ASK_TO_LINK = "ask-to-link"
SEPARATE_ACCOUNT = "separate-account"
REFUSE = "refuse"

TRUST_KEYS = ("name", "authoritative_usernames", "unlinked_identities")
_NOT_NAME_CHARACTERS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class PlatformTrust:
    """One platform's trust. `label` names the platform to people (its issuer or key)."""

    name: str
    label: str
    authoritative_usernames: re.Pattern[str] | None = None
    unlinked_identities: str = ASK_TO_LINK

    def may_claim(self, username: str) -> bool:
        """Whether the operator declared this platform's usernames to be the hub's for
        `username`: then a launch may land in that account without a link."""
        pattern = self.authoritative_usernames
        return pattern is not None and pattern.fullmatch(username) is not None

    def separate_account_name(self, username: str) -> str:
        return f"{self.name}-{username}"


def default_name(issuer_or_key: str) -> str:
    """A platform name from its LTI 1.3 issuer's host or its LTI 1.1 consumer key."""
    host = urlparse(issuer_or_key).hostname if "://" in issuer_or_key else None
    name = _NOT_NAME_CHARACTERS.sub("-", (host or issuer_or_key).lower())
    return name[:32].strip("-") or "lti"


def trust_from(entry: Mapping[str, Any], label: str, option: str) -> PlatformTrust:
    """The trust configured in `entry` (only its TRUST_KEYS are read) for the platform `label`.

    Raises ValueError naming `option` and the problem, so a bad entry stops the hub at start.
    """
    trust = {key: entry[key] for key in TRUST_KEYS if key in entry}
    schemas.validate(trust, "platform_trust.schema.json", option)
    pattern = trust.get("authoritative_usernames") or None
    try:
        compiled = re.compile(pattern) if pattern else None
    except re.error as error:
        raise ValueError(
            f"{option}: authoritative_usernames is not a regular expression: {error}"
        ) from None
    return PlatformTrust(
        name=trust.get("name") or default_name(label),
        label=label,
        authoritative_usernames=compiled,
        unlinked_identities=trust.get("unlinked_identities", ASK_TO_LINK),
    )
