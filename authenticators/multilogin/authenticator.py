"""MultiLoginAuthenticator: Keycloak, LTI 1.1 and LTI 1.3 behind one JupyterHub authenticator.

Each source is a small authenticator of its own (KeycloakLogin, LTI11Login, LTI13Login),
configured under its own class name. This class owns what they share: the routes, one username
normalisation, the entitlement rules and groups, auth_state, token refresh and spawn hooks.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from jupyterhub import orm
from jupyterhub.auth import Authenticator
from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import maybe_future
from sqlalchemy import Connection, select
from tornado.web import Finish
from traitlets import Bool, Enum, Float, List, Unicode, default, validate

from . import accounts, pending_links
from .auth_state import (
    GRANTS,
    KEYCLOAK_AUTHENTICATED_AT,
    LOGIN_SOURCE,
    LTI_LAUNCH,
    Course,
    holds_keycloak_login,
    keycloak_part,
    login_record,
    without_keycloak_part,
)
from .entitlements import (
    KEYCLOAK,
    LTI11,
    LTI13,
    LoginFacts,
    entitlements_for,
    groups_from_grants,
    merge_grants,
    unexpired,
    validate_rules,
    without_keycloak_share,
)
from .errors import LoginRefused
from .group_members import MemberLists
from .identities import LINKED_AS_SEPARATE_ACCOUNT, AlreadyLinked, Identity, IdentityStore
from .keycloak import CALLBACK_PATH as KEYCLOAK_CALLBACK_PATH
from .keycloak import LOGIN_PATH as KEYCLOAK_LOGIN_PATH
from .keycloak import KeycloakCallbackHandler, KeycloakLogin, KeycloakLoginHandler
from .launch_handler import LTILaunchHandler
from .launches import ValidatedLaunch
from .linking import IDENTITIES_PATH, LINK_PATH, LinkAccountHandler, LinkedIdentitiesHandler
from .login_page import login_page_html
from .logout import SingleLogoutHandler
from .lti11 import LTI11_CONFIG_PATH, LTI11Login, LTI11ToolConfigHandler
from .lti13 import (
    CALLBACK_PATH,
    CONFIG_PATH,
    LAUNCH_PATH,
    LOGIN_PATH,
    LTI13ConfigHandler,
    LTI13Login,
    LTI13LoginHandler,
)
from .nonces import NonceStore, replayed
from .platform_trust import ASK_TO_LINK, PlatformTrust, trust_from
from .secrets_env import check_secret
from .source_routes import Route, source_route
from .spawn_environment import spawn_environment
from .urls import hub_url
from .usernames import (
    DEFAULT_USERNAME_PATTERN,
    LOOK_ALIKE,
    is_look_alike,
    normalize_username,
    username_problem,
)

DEFAULT_ENTITLEMENT_RULES = [
    {"keycloak_groups": ["admins"], "grant": ["admin"]},
    {"keycloak_groups": ["instructors"], "grant": ["instructor"]},
    {"keycloak_groups": ["gpu"], "grant": ["gpu"]},
    {"lti_roles": ["Instructor", "TeachingAssistant", "ContentDeveloper"], "grant": ["instructor"]},
]

_DAY_S = 86400.0

# The hub's user of a name, or None.
UserLookup = Callable[[str], Any]


def _user_lookup(handler: BaseHandler) -> UserLookup:
    """handler.find_user for one login, asked once per name, not once per question (is there
    such an account, is it an admin's, what was its auth_state).

    One SELECT of the id, and the account from the session by primary key: handler.find_user's
    query makes SQLAlchemy fetch the account's roles, groups and shares again (selectin), loaded
    or not, and JupyterHub's own find_user after authentication fetches them once more. Like
    hub_tables.read, it flushes none of the hub's pending changes.
    """

    def find(name: str) -> Any:
        db = handler.db
        with db.no_autoflush:
            user_id = db.scalar(select(orm.User.id).where(orm.User.name == name))
            return None if user_id is None else handler.users[db.get(orm.User, user_id)]

    return functools.cache(find)


# Course groups and keys carry the context id; JupyterHub's group names are VARCHAR(255).
_MAX_CONTEXT_ID = 200


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
        "course-{platform}.{context_id}",
        config=True,
        help="""Name of the group each LTI course grants: `{platform}` is the platform's name
        (see LTI11Login.consumer_trust and LTI13Login.platforms), `{context_id}` the course's LTI
        context id in group-name-safe form. Keep `{platform}`: course 202 of one Moodle is not
        course 202 of another. Empty: no course groups.""",
    )
    lti_admin_accounts = Enum(
        ["refuse", "without-admin"],
        "refuse",
        config=True,
        help="""What an LTI launch into an admin account gets: `refuse` (a page saying to use
        the campus login) or `without-admin` (the session drops admin). An LTI session never
        carries admin.""",
    )
    lti_share_lifetime_days = Float(
        180.0,
        config=True,
        help="""Days the groups a course grants (its course group, roles such as instructor)
        last after the person's last launch from that course.""",
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

    @validate("course_group_format")
    def _validate_course_group_format(self, proposal: Any) -> str:
        value = proposal.value
        fields = set(re.findall(r"{(\w*)}", value))
        if value and not fields <= {"platform", "context_id"}:
            raise ValueError(
                f"course_group_format {value!r} may only use {{platform}} and {{context_id}}"
            )
        return value

    @default("username_pattern")
    def _username_pattern_default(self) -> str:
        return DEFAULT_USERNAME_PATTERN

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
        # Authenticator compiles username_pattern only when it is set, not for a default.
        self.username_regex = re.compile(self.username_pattern) if self.username_pattern else None
        # Validate the defaults too, so a changed admin_group cannot slip past the rules check.
        validate_rules(self.entitlement_rules, self.admin_group)
        self.nonces = NonceStore()
        self.identities = IdentityStore()
        self.member_lists = MemberLists()
        self.keycloak_login = (
            KeycloakLogin(parent=self, enable_auth_state=self.enable_auth_state)
            if self.enable_keycloak
            else None
        )
        self.lti11_login = LTI11Login(parent=self) if self.enable_lti11 else None
        self.lti13_login = LTI13Login(parent=self) if self.enable_lti13 else None
        self._check_sources()
        self.platform_trust = self._platform_trust()

    def _platform_trust(self) -> dict[tuple[str, str], PlatformTrust]:
        """Each trusted LTI source's trust, by (source, consumer key or issuer); checked once."""
        trust: dict[tuple[str, str], PlatformTrust] = {}
        if self.lti11_login is not None:
            for key in self.lti11_login.consumers:
                entry = self.lti11_login.consumer_trust.get(key, {})
                trust[LTI11, key] = trust_from(entry, key, f"LTI11Login.consumer_trust[{key}]")
        if self.lti13_login is not None:
            for index, entry in enumerate(self.lti13_login.platforms):
                issuer = entry["issuer"]
                trust[LTI13, issuer] = trust_from(entry, issuer, f"LTI13Login.platforms/{index}")
        asking = sorted(t.label for t in trust.values() if t.unlinked_identities == ASK_TO_LINK)
        if asking and self.keycloak_login is None:
            raise ValueError(
                f"{', '.join(asking)}: unlinked_identities is ask-to-link (the default), which "
                "needs the Keycloak login; switch it on or choose separate-account or refuse"
            )
        return trust

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
            if keycloak.client_secret:
                check_secret(keycloak.client_secret, "KeycloakLogin.client_secret")
            if not (keycloak.allow_all or keycloak.allowed_groups or keycloak.allowed_users):
                self.log.warning(
                    "KeycloakLogin has no allowed_groups, allowed_users or allow_all: "
                    "every Keycloak login will be refused"
                )
        if self.lti11_login is not None and not self.lti11_login.consumers:
            self.log.warning("LTI 1.1 is on but LTI11Login.consumers is empty: all refused")
        if self.lti13_login is not None and not self.lti13_login.platforms:
            self.log.warning("LTI 1.3 is on but LTI13Login.platforms is empty: all refused")

    def get_handlers(self, app: Any) -> list[Route]:
        """The routes; each source handler gets its source here (see source_routes.py)."""
        keycloak, lti11, lti13 = self.keycloak_login, self.lti11_login, self.lti13_login
        routes: list[Route] = []
        if keycloak:
            routes += [
                # Before JupyterHub's own /logout, which it replaces.
                ("/logout", SingleLogoutHandler),
                source_route(f"/{KEYCLOAK_LOGIN_PATH}", KeycloakLoginHandler, source=keycloak),
                source_route(
                    f"/{KEYCLOAK_CALLBACK_PATH}", KeycloakCallbackHandler, source=keycloak
                ),
            ]
        launches = {"lti11": lti11, "lti13": lti13}
        if lti11 or lti13:
            routes.append(source_route(f"/{LAUNCH_PATH}", LTILaunchHandler, **launches))
        if lti11:
            routes.append(
                source_route(f"/{LTI11_CONFIG_PATH}", LTI11ToolConfigHandler, source=lti11)
            )
        if lti13:
            routes += [
                source_route(f"/{LOGIN_PATH}", LTI13LoginHandler, source=lti13),
                source_route(f"/{CALLBACK_PATH}", LTILaunchHandler, **launches),
                source_route(f"/{CONFIG_PATH}", LTI13ConfigHandler, source=lti13),
            ]
        if keycloak and (lti11 or lti13):
            routes.append((f"/{LINK_PATH}", LinkAccountHandler))
        routes.append((f"/{IDENTITIES_PATH}", LinkedIdentitiesHandler))
        return routes

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
        """allowed_users and blocked_users apply to every source; authenticate() refuses
        with a message first, this answers JupyterHub's own checks the same way."""
        return self._admission_refusal(username) is None

    def _admission_refusal(self, name: str) -> LoginRefused | None:
        keycloak_blocked = self.keycloak_login.blocked_users if self.keycloak_login else set()
        if name in self.blocked_users or name in keycloak_blocked:
            return LoginRefused(
                403, "This account is blocked on this hub.", f"{name!r} is in blocked_users"
            )
        if self.allowed_users and name not in self.allowed_users and name not in self.admin_users:
            return LoginRefused(
                403,
                "This account is not allowed to use this hub. If you take part in a course "
                "that uses it, ask the course's teacher to have you added.",
                f"{name!r} is not in allowed_users",
            )
        return None

    def _admitted_name(self, raw: str, what: str) -> str:
        """The hub username for `raw`, or a refusal saying why it cannot be one."""
        problem = username_problem(raw, self.username_regex)
        if problem:
            raise self._name_refusal(raw, what, problem)
        return self.normalize_username(raw)

    def _name_refusal(self, raw: str, what: str, problem: str) -> LoginRefused:
        return LoginRefused(
            403,
            f"Your {what} {raw!r} cannot be used on this hub: {problem}. Hub usernames are "
            "lower-case letters, digits and single hyphens. Ask the hub's administrators.",
            f"username {raw!r} refused: {problem}",
        )

    def _refuse_look_alike(self, raw: str, what: str) -> None:
        """A look-alike claim is refused whatever it would reach, a link page included."""
        if is_look_alike(raw):
            raise self._name_refusal(raw, what, LOOK_ALIKE)

    async def authenticate(self, handler: BaseHandler, data: Any = None) -> dict[str, Any]:
        if isinstance(data, ValidatedLaunch):
            return await self._lti_login(handler, data)
        if getattr(handler, "login_source", None) == KEYCLOAK and self.keycloak_login:
            return await self._keycloak_login(handler, data)
        raise LoginRefused(400, "This is not a login address.", "authenticate() from elsewhere")

    async def run_post_auth_hook(
        self, handler: BaseHandler, auth_model: dict[str, Any]
    ) -> dict[str, Any]:
        auth_model = await super().run_post_auth_hook(handler, auth_model)
        # Next, JupyterHub's sync_groups adds the user to them: one row, not the member list.
        self.member_lists.unload(handler.db, auth_model.get("groups") or ())
        return auth_model

    def _account(self, handler: BaseHandler, find_user: UserLookup, name: str) -> accounts.Account:
        return accounts.Account(
            name, find_user(name) is not None, tuple(self.identities.links_of(handler.db, name))
        )

    def _is_admin_account(self, find_user: UserLookup, name: str) -> bool:
        user = find_user(name)
        return name in self.admin_users or bool(user is not None and user.admin)

    def _identity(self, source: str, issuer: str, client_id: str, subject: Any) -> Identity:
        if not isinstance(subject, str) or not subject:
            raise LoginRefused(
                400,
                "The sign-in did not say who you are at the site you came from. Try again.",
                f"{source}: no subject from {issuer!r}",
            )
        identity = Identity(source, issuer, client_id, subject)
        if identity.too_long():
            raise LoginRefused(400, "The sign-in could not be read.", f"{identity}: too long")
        return identity

    def _land(self, decision: accounts.Land, raw_name: str, what: str) -> str:
        """The account to sign in to. An account reached by name (`raw_name`, as the source
        sent it), not by an existing link, must have the hub's form."""
        name = decision.username
        if decision.new_link is not None:
            name = self._admitted_name(raw_name, what)
        refusal = self._admission_refusal(name)
        if refusal is not None:
            raise refusal
        return name

    def _record_link(
        self, handler: BaseHandler, identity: Identity, land: accounts.Land, name: str
    ) -> None:
        if land.new_link is None:
            self.identities.record_login(handler.db, identity)
        elif self.identities.link(handler.db, identity, name, land.new_link):
            self._log_link(identity, name, land.new_link)

    def _record_launch(
        self,
        handler: BaseHandler,
        launch: ValidatedLaunch,
        identity: Identity,
        land: accounts.Land,
        name: str,
    ) -> None:
        """Record the launch's nonce and the login (the new link, or the login time) in one
        transaction: one commit per launch; the replay refusal when the nonce was used."""

        def record(connection: Connection) -> None:
            if land.new_link is None:
                self.identities.write_login(connection, identity)
            else:
                self.identities.write_link(connection, identity, name, land.new_link)

        try:
            claimed = self.nonces.claim(handler.db, launch.nonce, along=record)
        except AlreadyLinked:
            # Another launch of this identity linked it first; that one's link stands, and this
            # launch signs in only to the account it points to.
            claimed = self.nonces.claim(handler.db, launch.nonce)
            standing = self.identities.link_of(handler.db, identity)
            if claimed and (standing is None or standing.username != name):
                raise LoginRefused(
                    409,
                    "This sign-in was linked to an account at the same moment. Go back to "
                    "Moodle and open the link again.",
                    f"{identity}: linked elsewhere while this launch chose {name!r}",
                ) from None
        else:
            if claimed and land.new_link is not None:
                self._log_link(identity, name, land.new_link)
        if not claimed:
            raise replayed(launch.nonce)

    def _log_link(self, identity: Identity, name: str, how: str) -> None:
        self.log.info("Linked %s to %s (%s)", identity, name, how)

    async def _lti_login(self, handler: BaseHandler, launch: ValidatedLaunch) -> dict[str, Any]:
        find_user = _user_lookup(handler)
        source = launch.facts.source
        trust = self.platform_trust[source, launch.issuer]
        identity = self._identity(source, launch.issuer, launch.client_id, launch.subject)
        self._refuse_look_alike(launch.username, "Moodle username")
        claimed = normalize_username(launch.username)
        decision = accounts.for_lti(
            identity,
            claimed,
            trust,
            self.identities.link_of(handler.db, identity),
            lambda name: self._account(handler, find_user, name),
        )
        if isinstance(decision, accounts.AskToLink):
            self.nonces.claim_or_refuse(handler.db, launch.nonce)
            pending_links.remember(handler, identity, launch.username, trust.label)
            handler.redirect(hub_url(handler, LINK_PATH))
            # The response is the redirect; Finish ends the request without an error page.
            raise Finish()
        raw_name = launch.username
        if decision.new_link == LINKED_AS_SEPARATE_ACCOUNT:
            raw_name = trust.separate_account_name(launch.username)
        name = self._land(decision, raw_name, "Moodle username")
        if self._is_admin_account(find_user, name) and self.lti_admin_accounts == "refuse":
            raise LoginRefused(
                403,
                f"{name!r} is an administrator account. Administrators sign in with the campus "
                "login, not from Moodle.",
                f"{identity} launched into admin account {name!r}",
            )
        facts = replace(launch.facts, platform=trust.name)
        if facts.context_id and len(facts.context_id) > _MAX_CONTEXT_ID:
            raise LoginRefused(
                400,
                "The launch names a course this hub cannot hold (its id is too long).",
                f"{identity}: context_id of {len(facts.context_id)} characters",
            )
        course = None
        if facts.context_id and facts.course_key:
            course = Course(
                key=facts.course_key,
                platform=trust.name,
                context_id=facts.context_id,
                title=launch.course_title,
            )
        previous = await self._previous_auth_state(find_user, name)
        model = self._auth_model(name, facts, course, {LTI_LAUNCH: launch.launch_data}, previous)
        self._record_launch(handler, launch, identity, decision, name)
        return model

    async def _keycloak_login(self, handler: BaseHandler, data: Any) -> dict[str, Any]:
        keycloak = self.keycloak_login
        find_user = _user_lookup(handler)
        model = await keycloak.authenticate(handler, data)
        oauth_user = model["auth_state"].get(keycloak.user_auth_state_key) or {}
        identity = self._identity(KEYCLOAK, keycloak.identity_issuer, "", oauth_user.get("sub"))
        raw = str(keycloak.user_info_to_username(oauth_user))
        self._refuse_look_alike(raw, "campus username")
        decision = accounts.for_keycloak(
            identity,
            normalize_username(raw),
            self.identities.link_of(handler.db, identity),
            lambda name: self._account(handler, find_user, name),
        )
        name = self._land(decision, raw, "campus username")
        previous = await self._previous_auth_state(find_user, name)
        model["name"] = name
        model["auth_state"][KEYCLOAK_AUTHENTICATED_AT] = time.time()
        auth_model = await self._keycloak_auth_model(model, previous)
        self._record_link(handler, identity, decision, name)
        return auth_model

    async def refresh_user(self, user: Any, handler: BaseHandler | None = None) -> Any:
        """Keycloak's share (tokens, groups, admin) is refreshed in every session that holds
        Keycloak tokens, LTI sessions included, and goes when Keycloak stops vouching for the
        person; expired course shares go too. A Keycloak session without a valid Keycloak
        login must sign in again."""
        auth_state = await user.get_auth_state()
        if not auth_state:
            return True
        source = auth_state.get(LOGIN_SOURCE)
        keycloak_model = None
        if self.keycloak_login is not None and holds_keycloak_login(auth_state):
            keycloak_model = await self._refreshed_keycloak(user, handler, auth_state)
        if source == KEYCLOAK:
            if keycloak_model is None:
                return False
            return await self._keycloak_auth_model(keycloak_model, auth_state)
        return self._refreshed_lti_session(user.name, auth_state, keycloak_model)

    async def _refreshed_keycloak(
        self, user: Any, handler: BaseHandler | None, auth_state: dict[str, Any]
    ) -> dict | None:
        """Keycloak's current model of the person, or None when it no longer vouches for them."""
        refreshed = await self.keycloak_login.refresh_user(user, handler)
        if not isinstance(refreshed, dict):
            self.log.info("Keycloak no longer vouches for %s: its tokens are gone", user.name)
            return None
        if not await maybe_future(self.keycloak_login.check_allowed(refreshed["name"], refreshed)):
            self.log.info("Keycloak no longer admits %s", user.name)
            return None
        refreshed["name"] = user.name
        # When the person last gave Keycloak their password: a refresh is no new sign-in.
        refreshed["auth_state"][KEYCLOAK_AUTHENTICATED_AT] = auth_state.get(
            KEYCLOAK_AUTHENTICATED_AT
        )
        return refreshed

    def _refreshed_lti_session(
        self, name: str, auth_state: dict[str, Any], keycloak_model: dict | None
    ) -> dict[str, Any]:
        state = without_keycloak_part(auth_state)
        grants = unexpired(auth_state.get(GRANTS), time.time(), self._lti_share_lifetime_s)
        if keycloak_model is None:
            grants = without_keycloak_share(grants)
        else:
            state.update(keycloak_part(keycloak_model["auth_state"]))
            facts = LoginFacts(
                source=KEYCLOAK, keycloak_groups=frozenset(keycloak_model.get("groups") or ())
            )
            entitlements = entitlements_for(facts, self.entitlement_rules, None)
            grants = merge_grants(grants, facts, entitlements, time.time())
        state[GRANTS] = grants
        return {
            "name": name,
            "admin": False,
            "groups": groups_from_grants(
                grants, self.admin_group, auth_state.get(LOGIN_SOURCE, "")
            ),
            "auth_state": state,
        }

    @property
    def _lti_share_lifetime_s(self) -> float:
        return self.lti_share_lifetime_days * _DAY_S

    def end_session_redirect(self, auth_state: dict[str, Any], after_logout_url: str) -> str | None:
        """Where logout sends the browser to end the person's campus session, if anywhere:
        Keycloak whenever the session holds a Keycloak login (LTI sessions carry it too)."""
        if not holds_keycloak_login(auth_state) or self.keycloak_login is None:
            return None
        return self.keycloak_login.end_session_redirect(auth_state, after_logout_url)

    def delete_user(self, user: Any) -> None:
        """A deleted account's links go with it: its identities would otherwise land in a new
        account that happens to get the name."""
        removed = self.identities.unlink_all(user.db, user.name)
        self.log.info("Removed %d linked identities of deleted user %s", removed, user.name)

    async def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        """Hand the login source and entitlements to the spawner as environment variables."""
        auth_state = await user.get_auth_state() or {}
        spawner.environment = {**spawner.environment, **spawn_environment(auth_state)}
        source = self._source_authenticator(auth_state.get(LOGIN_SOURCE))
        if source is not None:
            await maybe_future(source.pre_spawn_start(user, spawner))

    async def post_spawn_stop(self, user: Any, spawner: Any) -> None:
        auth_state = await user.get_auth_state() or {}
        source = self._source_authenticator(auth_state.get(LOGIN_SOURCE))
        if source is not None:
            await maybe_future(source.post_spawn_stop(user, spawner))

    def _source_authenticator(self, source: str | None) -> Authenticator | None:
        return {
            KEYCLOAK: self.keycloak_login,
            LTI11: self.lti11_login,
            LTI13: self.lti13_login,
        }.get(source or "")

    async def _previous_auth_state(self, find_user: UserLookup, username: str) -> dict | None:
        if not self.enable_auth_state:
            return None
        user = find_user(self.normalize_username(username))
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
        name: str,
        facts: LoginFacts,
        course: Course | None,
        auth_state: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> dict[str, Any]:
        now = time.time()
        previous = previous or {}
        entitlements = entitlements_for(
            facts, self.entitlement_rules, self.course_group_format or None
        )
        grants = unexpired(previous.get(GRANTS), now, self._lti_share_lifetime_s)
        grants = merge_grants(grants, facts, entitlements, now)
        if facts.source == KEYCLOAK:
            admin = self.admin_group in entitlements or name in self.admin_users
        else:
            admin = False
            auth_state.update(keycloak_part(previous))
        auth_state.update(
            login_record(facts.source, entitlements, course, list(facts.lti_roles), grants)
        )
        return {
            "name": name,
            "admin": admin,
            "groups": groups_from_grants(grants, self.admin_group, facts.source),
            "auth_state": auth_state,
        }
