"""The one launch endpoint: /hub/lti/launch (LTI 1.1 and the LTI 1.3 target) and
/hub/lti13/oauth_callback (the LTI 1.3 redirect URI)."""

from __future__ import annotations

from typing import Any

from jupyterhub.handlers import BaseHandler
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler

from .entitlements import LTI11, LTI13
from .errors import LoginRefused, RefusalPagesMixin
from .urls import safe_next_url


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
        user = await self.login_user(launch)
        if user is None:
            raise LoginRefused(403, "This account may not use the hub.", "login_user refused")
        self.redirect(safe_next_url(self, launch.next_url, user))
