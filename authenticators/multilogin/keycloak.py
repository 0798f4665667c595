"""Keycloak (OpenID Connect) logins, built on oauthenticator's GenericOAuthenticator."""

from __future__ import annotations

from typing import Any

from jupyterhub.handlers import BaseHandler
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler
from tornado.httpclient import HTTPClientError
from tornado.httputil import url_concat
from traitlets import Bool, Unicode, default

from .auth_state import ID_TOKEN
from .entitlements import KEYCLOAK
from .errors import LoginRefused, RefusalPagesMixin
from .source_routes import ServesSource, UpstreamSourcePage
from .urls import hub_url

CALLBACK_PATH = "oauth_callback"
LOGIN_PATH = "oauth_login"
# `/hub/oauth_login?reauthenticate=1`: Keycloak must ask for the password again (OpenID Connect
# `prompt=login`), even when the browser holds a campus session; linking accounts needs it.
REAUTHENTICATE_ARGUMENT = "reauthenticate"


class KeycloakLoginHandler(RefusalPagesMixin, UpstreamSourcePage, OAuthLoginHandler):
    """Redirects to Keycloak (at /hub/oauth_login), keeping `next` in the state cookie.

    oauthenticator's handler reads the client settings from `self.authenticator`, here the
    KeycloakLogin this route serves.
    """

    login_source = KEYCLOAK

    def authorize_redirect(self, *args: Any, extra_params: dict | None = None, **kw: Any) -> None:
        if self.get_query_argument(REAUTHENTICATE_ARGUMENT, None):
            extra_params = {**(extra_params or {}), "prompt": "login"}
        super().authorize_redirect(*args, extra_params=extra_params, **kw)


class KeycloakCallbackHandler(RefusalPagesMixin, ServesSource, OAuthCallbackHandler):
    """Keycloak returns here (at /hub/oauth_callback) with the authorization code.

    The login itself is MultiLoginAuthenticator's (`self.authenticator`), which hands the code
    to KeycloakLogin.
    """

    login_source = KEYCLOAK

    async def login_user(self, data: Any = None) -> Any:
        user = await super().login_user(data)
        if user is None:
            raise LoginRefused(403, self.source.custom_403_message, "login_user refused")
        return user


class KeycloakLogin(GenericOAuthenticator):
    """The Keycloak part of MultiLoginAuthenticator.

    Configure it as `c.KeycloakLogin.<option>`; every GenericOAuthenticator option applies
    (client_id, client_secret, allowed_groups, ...). Only the options below are added.
    """

    keycloak_url = Unicode(
        "",
        config=True,
        help="""Base URL of the Keycloak server as the hub reaches it, e.g.
        `https://sso.example.edu`. With `realm`, sets authorize_url, token_url and userdata_url
        to the realm's OpenID Connect endpoints (each may still be set on its own).""",
    )
    realm = Unicode("", config=True, help="The Keycloak realm holding the campus users.")
    authorize_base_url = Unicode(
        "",
        config=True,
        help="""Keycloak's base URL as the *browser* reaches it, when it differs from
        `keycloak_url` (e.g. the hub talks to Keycloak inside the cluster). Defaults to
        `keycloak_url`.""",
    )
    end_session_url = Unicode(
        "",
        config=True,
        help="""Keycloak's end-session (logout) endpoint as the browser reaches it. Defaults to
        the realm's, from `authorize_base_url` or `keycloak_url` with `realm`.""",
    )
    logout_from_keycloak = Bool(
        True,
        config=True,
        help="""On hub logout, end the person's Keycloak session too, then come back to the
        hub's login page. Without it the campus login signs the next person at a shared lab
        computer straight back in as the previous one. The Keycloak client must accept the
        hub's login URL as a post-logout redirect URI (`+`, Keycloak's default, accepts the
        client's redirect URIs).""",
    )
    strip_group_path = Bool(
        True,
        config=True,
        help="""Strip the leading `/` of group paths, so that a groups claim with full paths
        (`/gpu`) and one without (`gpu`) give the same group names.""",
    )

    @default("login_service")
    def _login_service_default(self) -> str:
        return "Campus login"

    @default("username_claim")
    def _username_claim_default(self) -> str:
        return "preferred_username"

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        # The raw Keycloak groups feed allowed_groups and the entitlement rules.
        return True

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["openid", "profile", "email"]

    def _realm_endpoint(self, base: str, name: str) -> str:
        if not (base and self.realm):
            return ""
        return f"{base.rstrip('/')}/realms/{self.realm}/protocol/openid-connect/{name}"

    @default("authorize_url")
    def _authorize_url_default(self) -> str:
        return self._realm_endpoint(self.authorize_base_url or self.keycloak_url, "auth")

    @default("token_url")
    def _token_url_default(self) -> str:
        return self._realm_endpoint(self.keycloak_url, "token")

    @default("userdata_url")
    def _userdata_url_default(self) -> str:
        return self._realm_endpoint(self.keycloak_url, "userinfo")

    @default("end_session_url")
    def _end_session_url_default(self) -> str:
        return self._realm_endpoint(self.authorize_base_url or self.keycloak_url, "logout")

    @property
    def identity_issuer(self) -> str:
        """What identifies this Keycloak realm in linked identities (subjects are per realm)."""
        if self.keycloak_url and self.realm:
            return f"{self.keycloak_url.rstrip('/')}/realms/{self.realm}"
        return self.token_url

    def end_session_redirect(self, auth_state: dict[str, Any], after_logout_url: str) -> str | None:
        """The Keycloak URL that ends this login's Keycloak session and returns the browser to
        `after_logout_url`; None when logout_from_keycloak is off. With the login's ID token
        as a hint Keycloak logs out without asking; without one it asks the person to confirm."""
        if not (self.logout_from_keycloak and self.end_session_url):
            return None
        params = {"client_id": self.client_id, "post_logout_redirect_uri": after_logout_url}
        if auth_state.get(ID_TOKEN):
            params["id_token_hint"] = auth_state[ID_TOKEN]
        return url_concat(self.end_session_url, params)

    def get_callback_url(self, handler: BaseHandler | None = None) -> str:
        """`oauth_callback_url` when set; else built from the public URL or the request,
        always with the hub's URL prefix and the browser's scheme (behind a TLS proxy too)."""
        if self.oauth_callback_url or handler is None:
            return super().get_callback_url(handler)
        return hub_url(handler, CALLBACK_PATH)

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        groups = await super().get_user_groups(auth_state)
        if self.strip_group_path:
            return {group.lstrip("/") for group in groups}
        return groups

    async def authenticate(self, handler: BaseHandler, data: Any = None, **kwargs: Any) -> dict:
        try:
            return await super().authenticate(handler, data, **kwargs)
        except (OSError, HTTPClientError) as error:
            if isinstance(error, HTTPClientError) and error.code != 599:
                raise LoginRefused(
                    403,
                    "The campus login did not accept this sign-in. Please sign in again.",
                    f"Keycloak answered HTTP {error.code} to the token or userinfo request",
                ) from None
            raise LoginRefused(
                503,
                "The campus login (Keycloak) cannot be reached right now. "
                "Please try again in a few minutes.",
                f"Keycloak unreachable: {error}",
            ) from None
