"""MultiLoginAuthenticator: Keycloak, LTI 1.1 and LTI 1.3 behind one JupyterHub authenticator.

Each source is a small authenticator of its own (KeycloakLogin, LTI11Login, LTI13Login),
configured under its own class name. This class owns what they share: the routes, one username
normalisation, the entitlement rules and groups, auth_state, token refresh and spawn hooks.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.auth import Authenticator
from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import maybe_future
from ltiauthenticator.lti11.handlers import LTI11ConfigHandler
from traitlets import Bool, List, Unicode, default, validate

from .entitlements import (
    GRANTS_KEY,
    KEYCLOAK,
    LTI11,
    LTI13,
    LoginFacts,
    entitlements_for,
    groups_from_grants,
    merge_grants,
    validate_rules,
)
from .errors import LoginRefused
from .keycloak import KeycloakCallbackHandler, KeycloakLogin, KeycloakLoginHandler
from .launch_handler import LTILaunchHandler
from .launches import ValidatedLaunch
from .login_page import login_page_html
from .logout import SingleLogoutHandler
from .lti11 import LTI11Login
from .lti13 import (
    CALLBACK_PATH,
    CONFIG_PATH,
    LAUNCH_PATH,
    LOGIN_PATH,
    LTI13ConfigHandler,
    LTI13Login,
    LTI13LoginHandler,
)
from .nonces import NonceStore
from .spawn_environment import spawn_environment
from .usernames import normalize_username

DEFAULT_ENTITLEMENT_RULES = [
    {"keycloak_groups": ["admins"], "grant": ["admin"]},
    {"keycloak_groups": ["instructors"], "grant": ["instructor"]},
    {"keycloak_groups": ["gpu"], "grant": ["gpu"]},
    {"lti_roles": ["Instructor", "TeachingAssistant", "ContentDeveloper"], "grant": ["instructor"]},
]

# oauthenticator's login and callback handlers read these from `self.authenticator`, which is
# this class; they belong to the Keycloak part.
_KEYCLOAK_HANDLER_ATTRIBUTES = frozenset(
    {
        "authorize_url",
        "token_url",
        "userdata_url",
        "extra_authorize_params",
        "enable_pkce",
        "client_id",
        "scope",
        "custom_403_message",
        "get_callback_url",
    }
)


class _LTI11ToolConfigHandler(LTI11ConfigHandler):
    """ltiauthenticator's XML tool configuration (at /hub/lti11/config), read from LTI11Login."""

    @property
    def authenticator(self) -> LTI11Login:
        return self.settings["authenticator"].lti11_login


class MultiLoginAuthenticator(Authenticator):
    """One authenticator for Keycloak (OIDC), LTI 1.1 and LTI 1.3 logins.

    Set `c.JupyterHub.authenticator_class = "multilogin"` (or the class path) and configure each
    source under `c.KeycloakLogin`, `c.LTI11Login` and `c.LTI13Login`.
    """

    enable_keycloak = Bool(True, config=True, help="Offer the Keycloak (campus SSO) login.")
    enable_lti11 = Bool(True, config=True, help="Accept LTI 1.1 launches at /hub/lti/launch.")
    enable_lti13 = Bool(
        True, config=True, help="Accept LTI 1.3 launches (/hub/lti13/oauth_login and callback)."
    )
    entitlement_rules = List(
        config=True,
        help="""Rules turning Keycloak groups and LTI roles/courses into JupyterHub groups, each
        a dict: `keycloak_groups` (list) or `lti_roles` (list, short names like Instructor or
        full role URIs), optionally `lti_context_ids` (list) with lti_roles, and `grant`
        (list of group names). Validated against entitlement_rules.schema.json; a rule may
        grant `admin_group` only from keycloak_groups.""",
    )
    admin_group = Unicode(
        "admin",
        config=True,
        help="""Group that makes its members JupyterHub admins. Granted only by Keycloak
        groups; a Keycloak login without it takes admin away (unless in admin_users).""",
    )
    course_group_format = Unicode(
        "course-{context_id}",
        config=True,
        help="""Name of the group each LTI course grants (`{context_id}` is the course's LTI
        context id in group-name-safe form). Empty: no course groups.""",
    )
    lti_login_text = Unicode(
        "Taking a course in Moodle? Open the JupyterHub link in your Moodle course.",
        config=True,
        help="Text on the login page for people who come from Moodle.",
    )

    @default("entitlement_rules")
    def _entitlement_rules_default(self) -> list[dict[str, Any]]:
        return DEFAULT_ENTITLEMENT_RULES

    @validate("entitlement_rules")
    def _validate_entitlement_rules(self, proposal: Any) -> list[dict[str, Any]]:
        return validate_rules(proposal.value, self.admin_group)

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        return True

    @default("enable_auth_state")
    def _enable_auth_state_default(self) -> bool:
        return True

    @default("any_allow_config")
    def _any_allow_config_default(self) -> bool:
        # Admission is configured per source (KeycloakLogin's allow settings, the trusted LTI
        # consumers and platforms), which JupyterHub's startup check cannot see.
        return True

    @default("login_service")
    def _login_service_default(self) -> str:
        return "JupyterHub"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Validate the defaults too, so a changed admin_group cannot slip past the rules check.
        validate_rules(self.entitlement_rules, self.admin_group)
        self.nonces = NonceStore()
        self.keycloak_login = (
            KeycloakLogin(parent=self, enable_auth_state=self.enable_auth_state)
            if self.enable_keycloak
            else None
        )
        self.lti11_login = LTI11Login(parent=self) if self.enable_lti11 else None
        self.lti13_login = LTI13Login(parent=self) if self.enable_lti13 else None
        self._check_sources()

    def _check_sources(self) -> None:
        """Stop the hub on a source switched on but not configured; warn on one trusting no one."""
        keycloak = self.keycloak_login
        if keycloak is not None:
            missing = [
                name
                for name in ("authorize_url", "token_url", "userdata_url", "client_id")
                if not getattr(keycloak, name)
            ]
            if missing:
                raise ValueError(
                    f"The Keycloak login is on but KeycloakLogin lacks {', '.join(missing)}: set "
                    "c.KeycloakLogin.keycloak_url and .realm (or the URLs) and .client_id, or "
                    "c.MultiLoginAuthenticator.enable_keycloak = False"
                )
            if not (keycloak.allow_all or keycloak.allowed_groups or keycloak.allowed_users):
                self.log.warning(
                    "KeycloakLogin has no allowed_groups, allowed_users or allow_all: "
                    "every Keycloak login will be refused"
                )
        if self.lti11_login is not None and not self.lti11_login.consumers:
            self.log.warning("LTI 1.1 is on but LTI11Login.consumers is empty: all refused")
        if self.lti13_login is not None and not self.lti13_login.platforms:
            self.log.warning("LTI 1.3 is on but LTI13Login.platforms is empty: all refused")

    def __getattr__(self, name: str) -> Any:
        if name in _KEYCLOAK_HANDLER_ATTRIBUTES:
            keycloak = self.__dict__.get("keycloak_login")
            if keycloak is not None:
                return getattr(keycloak, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_handlers(self, app: Any) -> list[tuple[str, type[BaseHandler]]]:
        handlers: list[tuple[str, type[BaseHandler]]] = []
        if self.keycloak_login:
            handlers += [
                # Before JupyterHub's own /logout, which it replaces.
                ("/logout", SingleLogoutHandler),
                ("/oauth_login", KeycloakLoginHandler),
                ("/oauth_callback", KeycloakCallbackHandler),
            ]
        if self.lti11_login or self.lti13_login:
            handlers.append((f"/{LAUNCH_PATH}", LTILaunchHandler))
        if self.lti11_login:
            handlers.append(("/lti11/config", _LTI11ToolConfigHandler))
        if self.lti13_login:
            handlers += [
                (f"/{LOGIN_PATH}", LTI13LoginHandler),
                (f"/{CALLBACK_PATH}", LTILaunchHandler),
                (f"/{CONFIG_PATH}", LTI13ConfigHandler),
            ]
        return handlers

    def get_custom_html(self, base_url: str) -> str:
        return login_page_html(
            base_url,
            self.keycloak_login.login_service if self.keycloak_login else None,
            bool(self.lti11_login or self.lti13_login),
            self.lti_login_text,
        )

    def normalize_username(self, username: str) -> str:
        return super().normalize_username(normalize_username(username))

    async def check_allowed(self, username: str, authentication: dict | None = None) -> bool:
        """Admission is decided per source in authenticate(): Keycloak by KeycloakLogin's
        allow settings, LTI by the trusted consumers and platforms."""
        return True

    async def authenticate(self, handler: BaseHandler, data: Any = None) -> dict[str, Any]:
        if isinstance(data, ValidatedLaunch):
            previous = await self._previous_auth_state(handler, data.username)
            auth_state = {"lti_launch": data.launch_data}
            return self._auth_model(data.username, data.facts, data.course, auth_state, previous)
        if getattr(handler, "login_source", None) == KEYCLOAK and self.keycloak_login:
            model = await self.keycloak_login.authenticate(handler, data)
            previous = await self._previous_auth_state(handler, model["name"])
            return await self._keycloak_auth_model(model, previous)
        raise LoginRefused(400, "This is not a login address.", "authenticate() from elsewhere")

    async def refresh_user(self, user: Any, handler: BaseHandler | None = None) -> Any:
        """Keycloak logins refresh their tokens and groups through KeycloakLogin; LTI logins
        have nothing to refresh."""
        auth_state = await user.get_auth_state()
        if (
            not auth_state
            or auth_state.get("login_source") != KEYCLOAK
            or self.keycloak_login is None
        ):
            return True
        refreshed = await self.keycloak_login.refresh_user(user, handler)
        if not isinstance(refreshed, dict):
            return refreshed
        try:
            return await self._keycloak_auth_model(refreshed, auth_state)
        except LoginRefused as refusal:
            self.log.warning("Refresh of %s refused: %s", user.name, refusal.reason_text)
            return False

    def end_session_redirect(self, auth_state: dict[str, Any], after_logout_url: str) -> str | None:
        """Where logout sends the browser to end the login's session at its source, if
        anywhere: Keycloak for a Keycloak login; an LTI launch leaves no session to end."""
        if auth_state.get("login_source") != KEYCLOAK or self.keycloak_login is None:
            return None
        return self.keycloak_login.end_session_redirect(auth_state, after_logout_url)

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        """Hand the login source and entitlements to the spawner as environment variables."""
        auth_state = await user.get_auth_state() or {}
        spawner.environment = {**spawner.environment, **spawn_environment(auth_state)}
        source = self._source_authenticator(auth_state.get("login_source"))
        if source is not None:
            await maybe_future(source.pre_spawn_start(user, spawner))

    async def post_spawn_stop(self, user: Any, spawner: Any) -> None:
        auth_state = await user.get_auth_state() or {}
        source = self._source_authenticator(auth_state.get("login_source"))
        if source is not None:
            await maybe_future(source.post_spawn_stop(user, spawner))

    def _source_authenticator(self, source: str | None) -> Authenticator | None:
        return {
            KEYCLOAK: self.keycloak_login,
            LTI11: self.lti11_login,
            LTI13: self.lti13_login,
        }.get(source or "")

    async def _previous_auth_state(self, handler: BaseHandler, username: str) -> dict | None:
        if not self.enable_auth_state:
            return None
        user = handler.find_user(self.normalize_username(username))
        return await user.get_auth_state() if user else None

    async def _keycloak_auth_model(
        self, model: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        keycloak = self.keycloak_login
        raw_groups = frozenset(model.get("groups") or ())
        if not await maybe_future(keycloak.check_allowed(model["name"], model)):
            raise LoginRefused(
                403,
                "Your campus account is not allowed to use this hub. If you take part in a "
                "course that uses it, ask the course's teacher to have you added.",
                f"Keycloak user {model['name']!r} outside the allowed groups "
                f"(has {sorted(raw_groups)}, allowed {sorted(keycloak.allowed_groups)})",
            )
        facts = LoginFacts(source=KEYCLOAK, keycloak_groups=raw_groups)
        return self._auth_model(model["name"], facts, None, dict(model["auth_state"]), previous)

    def _auth_model(
        self,
        username: str,
        facts: LoginFacts,
        course: dict[str, str] | None,
        auth_state: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> dict[str, Any]:
        name = self.normalize_username(username)
        entitlements = entitlements_for(
            facts, self.entitlement_rules, self.course_group_format or None
        )
        grants = merge_grants((previous or {}).get(GRANTS_KEY), facts.source, entitlements)
        admin = None
        if facts.source == KEYCLOAK:
            admin = self.admin_group in entitlements or name in self.admin_users
        auth_state.update(
            {
                "login_source": facts.source,
                "entitlements": entitlements,
                "course": course,
                "lti_roles": list(facts.lti_roles),
                GRANTS_KEY: grants,
            }
        )
        return {
            "name": name,
            "admin": admin,
            "groups": groups_from_grants(grants, self.admin_group),
            "auth_state": auth_state,
        }
