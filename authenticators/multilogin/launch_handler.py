"""The one launch endpoint: /hub/lti/launch (LTI 1.1 and the LTI 1.3 target) and
/hub/lti13/oauth_callback (the LTI 1.3 redirect URI)."""

from __future__ import annotations

import unicodedata
from typing import Any

from jupyterhub.handlers import BaseHandler
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler

from .entitlements import LTI11, LTI13
from .errors import LoginRefused, RefusalPagesMixin
from .urls import safe_next_url

# The hub database's `users.name` is VARCHAR(255): a longer name fails the insert on PostgreSQL.
_MAX_USERNAME = 255


def check_claimed_username(claimed: str, source: str) -> None:
    """Refuse a launched username that no column, cookie or page should carry: over 255
    characters or with control characters. Whether a claim may become an account name is the
    authenticator's decision (its username_pattern); the claim alone decides nothing."""
    if len(claimed) > _MAX_USERNAME or any(unicodedata.category(c) == "Cc" for c in claimed):
        raise LoginRefused(
            400,
            "Your Moodle username cannot be used on this hub (it is too long or has characters "
            "the hub does not accept). Ask the hub's administrators for help.",
            f"{source}: username {claimed[:80]!r} is not valid on the hub",
        )


class LTILaunchHandler(RefusalPagesMixin, LTI13CallbackHandler):
    """A POST with an `id_token` is an LTI 1.3 launch; any other POST is an LTI 1.1 launch."""

    def get_next_url(self, user: Any = None, default: str | None = None) -> str:
        # LTI13CallbackHandler reads `next` from the OAuth state, which an LTI 1.1 launch lacks;
        # the launch's own next is resolved in post().
        return BaseHandler.get_next_url(self, user, default)

    async def get(self) -> None:
        raise LoginRefused(
            405,
            "Open the JupyterHub link in your Moodle course; this address only takes launches.",
            "GET on the LTI launch endpoint",
        )

    async def post(self) -> None:
        multi = self.authenticator
        if self.get_body_argument("id_token", None) is not None:
            self.login_source = LTI13
            source = multi.lti13_login
        else:
            self.login_source = LTI11
            source = multi.lti11_login
        if source is None:
            raise LoginRefused(
                404,
                "Launches of this kind are switched off on this hub.",
                f"{self.login_source} launch while {self.login_source} is disabled",
            )
        if self.login_source == LTI13:
            launch = await source.validate_launch(self, multi.nonces)
        else:
            launch = source.validate_launch(self, multi.nonces)
        check_claimed_username(launch.username, self.login_source)
        user = await self.login_user(launch)
        if user is None:
            raise LoginRefused(403, "This account may not use the hub.", "login_user refused")
        self.redirect(safe_next_url(self, launch.next_url, user))
