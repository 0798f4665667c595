"""The one launch endpoint: /hub/lti/launch (LTI 1.1 and the LTI 1.3 target) and
/hub/lti13/oauth_callback (the LTI 1.3 redirect URI)."""

from __future__ import annotations

import unicodedata

from jupyterhub.handlers import BaseHandler
from sqlalchemy.exc import SQLAlchemyError

from .entitlements import LTI11, LTI13
from .errors import LoginRefused, RefusalPagesMixin
from .lti11 import LTI11Login
from .lti13 import LTI13Login
from .nonces import database_unavailable
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


class LTILaunchHandler(RefusalPagesMixin, BaseHandler):
    """A POST with an `id_token` is an LTI 1.3 launch; any other POST is an LTI 1.1 launch.

    Its route passes both sources (None for one switched off); the login itself is
    MultiLoginAuthenticator's (`self.authenticator`).
    """

    def initialize(self, lti11: LTI11Login | None, lti13: LTI13Login | None) -> None:
        self.lti11 = lti11
        self.lti13 = lti13

    def check_xsrf_cookie(self) -> None:
        # The platform posts the launch from its own site: there is no hub form.
        return

    async def get(self) -> None:
        raise LoginRefused(
            405,
            "Open the JupyterHub link in your Moodle course; this address only takes launches.",
            "GET on the LTI launch endpoint",
        )

    async def post(self) -> None:
        nonces = self.authenticator.nonces
        if self.get_body_argument("id_token", None) is not None:
            self.login_source = LTI13
            source = self.lti13
        else:
            self.login_source = LTI11
            source = self.lti11
        if source is None:
            raise LoginRefused(
                404,
                "Launches of this kind are switched off on this hub.",
                f"{self.login_source} launch while {self.login_source} is disabled",
            )
        if self.login_source == LTI13:
            launch = await source.validate_launch(self, nonces)
        else:
            launch = source.validate_launch(self, nonces)
        with nonces.recorded_if_refused(self.db, launch.nonce):
            check_claimed_username(launch.username, self.login_source)
            try:
                # The login records the nonce along with itself (MultiLoginAuthenticator).
                user = await self.login_user(launch)
            except SQLAlchemyError as error:
                # JupyterHub's error page rolls its one session back for a database error only;
                # the 503 is a refusal, so the failed session is rolled back here.
                self.db.rollback()
                raise database_unavailable(launch.nonce.scope, "login", error) from None
        if user is None:
            raise LoginRefused(403, "This account may not use the hub.", "login_user refused")
        self.redirect(safe_next_url(self, launch.next_url, user))
