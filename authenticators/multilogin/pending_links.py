"""A launch waiting to be linked: kept in an encrypted cookie of the browser that made it.

Only that browser can finish the link, and only after a fresh campus login (see linking.py). Over
https the cookie has the `__Host-` prefix, so a user server on a subdomain of the hub cannot
plant one (cookie tossing) in another person's browser.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import get_browser_protocol

from .identities import Identity

LIFETIME_S = 600
_NAME = "multilogin-link"


@dataclass(frozen=True)
class PendingLink:
    identity: Identity
    claimed_username: str
    platform_label: str
    created_at: float


def _cookie_name(handler: BaseHandler) -> str:
    https = get_browser_protocol(handler.request) == "https"
    return f"__Host-{_NAME}" if https else _NAME


def remember(handler: BaseHandler, identity: Identity, claimed: str, label: str) -> None:
    pending = PendingLink(identity, claimed, label, time.time())
    handler._set_cookie(
        _cookie_name(handler),
        json.dumps(asdict(pending)),
        encrypted=True,
        path=handler.hub.base_url,
        expires_days=LIFETIME_S / 86400,
    )


def recall(handler: BaseHandler) -> PendingLink | None:
    """The browser's pending link, if it has one younger than LIFETIME_S."""
    raw = handler.get_secure_cookie(_cookie_name(handler), max_age_days=1)
    if not raw:
        return None
    try:
        data: dict[str, Any] = json.loads(raw)
        pending = PendingLink(
            Identity(**data["identity"]),
            str(data["claimed_username"]),
            str(data["platform_label"]),
            float(data["created_at"]),
        )
    except (ValueError, TypeError, KeyError):
        return None
    return pending if time.time() - pending.created_at <= LIFETIME_S else None


def forget(handler: BaseHandler) -> None:
    handler.clear_cookie(_cookie_name(handler), path=handler.hub.base_url)
