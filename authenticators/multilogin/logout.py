"""/hub/logout: JupyterHub's logout, then for a Keycloak login the end of the Keycloak session."""

from __future__ import annotations

from jupyterhub.handlers.login import LogoutHandler

from .urls import hub_url


class SingleLogoutHandler(LogoutHandler):
    """Ends the hub session as JupyterHub does; a Keycloak login then goes on to Keycloak's
    end-session endpoint, which sends the browser back to the hub's login page."""

    _end_session_redirect: str | None = None

    async def handle_logout(self) -> None:
        # The login cookie is cleared by now, but current_user still names who logged out.
        user = self.current_user
        if user is None:
            return
        auth_state = await user.get_auth_state() or {}
        self._end_session_redirect = self.authenticator.end_session_redirect(
            auth_state, hub_url(self, "login")
        )

    async def render_logout_page(self) -> None:
        if self._end_session_redirect:
            self.redirect(self._end_session_redirect, permanent=False)
            return
        await super().render_logout_page()
