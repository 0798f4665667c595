"""LTI 1.3 launches from one or more trusted platforms (Moodle sites).

Reuses ltiauthenticator's launch validator (required claims, message type, version, iat age,
azp) and its configuration traits; adds what it lacks: several platforms, deployment ids, cached
JWKS fetched off the event loop, nonces recorded in the hub database, claim type checks, state
and nonce cookies named per launch (several tabs) that survive a cross-site launch, and routes
that work under a URL prefix. The login initiation and the launch are this module's own
handlers (ltiauthenticator's keep one state cookie per browser and a single platform).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import get_browser_protocol
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.constants import LTI13_CUSTOM_CLAIM
from ltiauthenticator.lti13.error import InvalidAudienceError, TokenError, ValidationError
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from tornado.httputil import url_concat
from traitlets import List, Unicode, default, validate

from . import schemas
from .entitlements import LTI13, LoginFacts
from .errors import LoginRefused, RefusalPagesMixin
from .framed_launches import answer_framed_launch, in_a_frame
from .launches import ValidatedLaunch, contains_nul, launch_arguments, nul_refusal
from .nonces import NonceClaim, NonceStore
from .source_routes import ServesSource
from .urls import hub_url, next_from_target_link
from .usernames import lookup_claim, normalize_username

CALLBACK_PATH = "lti13/oauth_callback"
LOGIN_PATH = "lti13/oauth_login"
CONFIG_PATH = "lti13/config"
LAUNCH_PATH = "lti/launch"

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DEPLOYMENT_CLAIM = CLAIM + "deployment_id"
CONTEXT_CLAIM = CLAIM + "context"
ROLES_CLAIM = CLAIM + "roles"
EXT_CLAIM = CLAIM + "ext"
RESOURCE_LINK_CLAIM = CLAIM + "resource_link"

_RELAUNCH = "Go back to Moodle and open the link again."
_OTHER_BROWSER = "The launch did not return to the browser that started it. " + _RELAUNCH
# The state id names the launch's cookies, so a browser can run several launches at once.
_STATE_ID = re.compile(r"[0-9a-f]{32}")
_LAUNCH_COOKIE_MAX_AGE_S = 600


def state_cookie_name(state_id: str) -> str:
    return f"lti13authenticator-state-{state_id}"


def nonce_cookie_name(state_id: str) -> str:
    return f"lti13authenticator-nonce-state-{state_id}"


def issue_state(state_id: str, issuer: str, next_url: str | None) -> str:
    """The `state` of a login initiation: URL-safe base64 of JSON, read back by parse_state."""
    state = {"state_id": state_id, "next_url": next_url, "iss": issuer}
    return base64.urlsafe_b64encode(json.dumps(state).encode("utf-8")).decode("ascii")


def parse_state(value: str) -> dict[str, Any]:
    """The state the login initiation issued: `state_id`, `iss` and `next_url`.

    Only its shape is checked here; the state cookie named by its id proves it is ours.
    """
    try:
        state = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))
    except (ValueError, RecursionError):  # bad base64, UTF-8 or JSON; JSON nested too deep
        state = None
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("state_id"), str)
        or not _STATE_ID.fullmatch(state["state_id"])
        or not isinstance(state.get("iss"), str)
        or not isinstance(state.get("next_url"), str | None)
    ):
        raise LoginRefused(400, _OTHER_BROWSER, "LTI 1.3: state not issued by this hub")
    return state


def nonce_for(nonce_secret: str) -> str:
    """The nonce sent to the platform for a secret kept in the browser's cookie (OpenID Connect
    Core, nonce notes): the id_token carries the nonce, which does not reveal the secret."""
    return hashlib.sha256(nonce_secret.encode("ascii")).hexdigest()


def take_launch_cookie(handler: BaseHandler, name: str) -> str:
    """A launch cookie's value ("" when missing or not signed by this hub), cleared: each is
    good for one launch."""
    value = handler.get_secure_cookie(name) or b""
    handler.clear_cookie(name)
    return value.decode("utf-8", "replace")


def _malformed(claim: str) -> LoginRefused:
    return LoginRefused(
        400,
        f"The launch from Moodle is not valid (a claim has the wrong form). {_RELAUNCH}",
        f"LTI 1.3: claim {claim!r} has the wrong type",
    )


def check_claim_types(id_token: dict[str, Any]) -> None:
    """Refuse claims of the wrong JSON type before anything reads them.

    The token is signed by a trusted platform, but a wrong type would otherwise end in a 500
    here or in ltiauthenticator's validator (which calls `.get` on the context claim).
    """
    if contains_nul(id_token):
        raise nul_refusal("LTI 1.3", "id_token")
    for name in ("nonce", DEPLOYMENT_CLAIM, "azp"):
        if name in id_token and not isinstance(id_token[name], str):
            raise _malformed(name)
    if not isinstance(id_token.get("sub"), str) or not id_token["sub"]:
        raise _malformed("sub")
    for name in (CONTEXT_CLAIM, RESOURCE_LINK_CLAIM, LTI13_CUSTOM_CLAIM, EXT_CLAIM):
        if name in id_token and not isinstance(id_token[name], dict):
            raise _malformed(name)
    roles = id_token.get(ROLES_CLAIM, [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _malformed(ROLES_CLAIM)
    context = id_token.get(CONTEXT_CLAIM, {})
    for key in ("id", "label", "title"):
        if key in context and not isinstance(context[key], str):
            raise _malformed(f"{CONTEXT_CLAIM}#{key}")
    # Custom parameters are strings in LTI 1.3; `username` and `next` are read from them.
    if not all(isinstance(value, str) for value in id_token.get(LTI13_CUSTOM_CLAIM, {}).values()):
        raise _malformed(LTI13_CUSTOM_CLAIM)
    if not isinstance(id_token.get(EXT_CLAIM, {}).get("user_username", ""), str):
        raise _malformed(f"{EXT_CLAIM}#user_username")


@dataclass(frozen=True)
class Platform:
    issuer: str
    client_ids: tuple[str, ...]
    deployment_ids: tuple[str, ...]
    authorize_url: str
    jwks_url: str


class LTI13Login(LTI13Authenticator):
    """The LTI 1.3 part of MultiLoginAuthenticator; configure as `c.LTI13Login.<option>`.

    Trust: only the `platforms` listed are accepted, each by issuer, client id, deployment id
    and the keys at its JWKS URL. The single-platform options of ltiauthenticator (`issuer`,
    `client_id`, `jwks_endpoint`, `authorize_url`) are not used; list the platform instead.
    """

    platforms = List(
        config=True,
        help="""Trusted platforms, each a dict with `issuer`, `client_ids`, `deployment_ids`,
        `authorize_url` and `jwks_url` (see lti13_platforms.schema.json). For Moodle:
        issuer = the site URL, authorize_url = <site>/mod/lti/auth.php,
        jwks_url = <site>/mod/lti/certs.php.""",
    )
    username_claims = List(
        Unicode(),
        config=True,
        help="""id_token claims that carry the username, first present wins; `CLAIM#KEY`
        reads KEY inside an object claim. Every one present must name the same user (after
        normalisation), else the launch is refused. Default: Moodle's `ext` claim
        `user_username` (only Moodle sets it), then the custom parameter `username`, used only
        when the ext claim is absent: a teacher can set custom parameters on an activity, so a
        custom username that disagrees with Moodle's is an attempt to launch as someone else.
        No fallback to `sub`: an opaque id would make a second account.""",
    )
    state_cookie_samesite = Unicode(
        "None",
        config=True,
        help="""SameSite attribute of the state and nonce cookies when the hub is served over
        https. The platform posts the id_token from its own site, so anything but `None` loses
        the cookies in a cross-site launch. Over plain http (development) browsers refuse
        `SameSite=None`, so the attribute is left out there.""",
    )

    @default("username_claims")
    def _username_claims_default(self) -> list[str]:
        return [f"{EXT_CLAIM}#user_username", f"{LTI13_CUSTOM_CLAIM}#username"]

    @validate("platforms")
    def _validate_platforms(self, proposal: Any) -> list[dict[str, Any]]:
        try:
            schemas.validate(proposal.value, "lti13_platforms.schema.json", "platforms")
        except ValueError as error:
            raise ValueError(f"LTI13Login.{error}") from None
        return proposal.value

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jwks_clients: dict[str, jwt.PyJWKClient] = {}

    def trusted_platforms(self) -> dict[str, Platform]:
        return {
            entry["issuer"]: Platform(
                issuer=entry["issuer"],
                client_ids=tuple(entry["client_ids"]),
                deployment_ids=tuple(entry["deployment_ids"]),
                authorize_url=entry["authorize_url"],
                jwks_url=entry["jwks_url"],
            )
            for entry in self.platforms
        }

    def platform_for(self, issuer: str | None, client_id: str | None = None) -> Platform:
        platform = self.trusted_platforms().get(issuer) if isinstance(issuer, str) else None
        if platform is None:
            raise LoginRefused(
                401,
                "This hub does not know the Moodle site that sent you (unknown platform).",
                f"LTI 1.3: unknown issuer {issuer!r}",
            )
        if client_id and client_id not in platform.client_ids:
            raise LoginRefused(
                401,
                "This hub does not know this tool registration (unknown client id).",
                f"LTI 1.3: unknown client_id {client_id!r} for issuer {issuer!r}",
            )
        return platform

    async def _signing_key(self, platform: Platform, encoded: str) -> Any:
        client = self._jwks_clients.get(platform.jwks_url)
        if client is None:
            client = self._jwks_clients[platform.jwks_url] = jwt.PyJWKClient(platform.jwks_url)
        try:
            # PyJWKClient fetches with urllib; a thread keeps the event loop free.
            signing_key = await asyncio.to_thread(client.get_signing_key_from_jwt, encoded)
        except jwt.PyJWTError as error:
            # PyJWKClientError (no key, JWKS unreachable) or a token header it cannot read.
            raise LoginRefused(
                401,
                "The launch could not be verified (the platform's signing key was not found).",
                f"LTI 1.3: no signing key for the id_token from {platform.jwks_url}: {error}",
            ) from None
        return signing_key.key

    def _decode(self, encoded: str, key: Any, platform: Platform, leeway: int) -> dict[str, Any]:
        try:
            return jwt.decode(
                encoded,
                key,
                algorithms=self.jwks_algorithms,
                audience=list(platform.client_ids),
                issuer=platform.issuer,
                leeway=leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidAudienceError as error:
            reason, message = f"wrong audience: {error}", "The launch was meant for another tool."
        except jwt.ExpiredSignatureError as error:
            reason, message = f"expired id_token: {error}", f"The launch has expired. {_RELAUNCH}"
        except jwt.InvalidSignatureError as error:
            reason, message = f"bad signature: {error}", "The launch could not be verified."
        except jwt.PyJWTError as error:
            reason, message = f"invalid id_token: {error}", "The launch could not be verified."
        raise LoginRefused(401, message, f"LTI 1.3: {reason}")

    async def validate_launch(self, handler: BaseHandler, nonces: NonceStore) -> ValidatedLaunch:
        """Check an id_token POST; raise LoginRefused when anything is wrong."""
        args = launch_arguments(handler.request, "LTI 1.3")
        validator = LTI13LaunchValidator(parent=self)
        try:
            validator.validate_auth_response(args)
        except ValidationError as error:
            raise LoginRefused(
                400, f"The launch is incomplete. {_RELAUNCH}", f"LTI 1.3: {error}"
            ) from None
        # The one state value (launch_arguments refuses a second) is both the one compared
        # with the cookie and the one whose issuer and next are used.
        state = parse_state(args["state"])
        cookie_state = take_launch_cookie(handler, state_cookie_name(state["state_id"]))
        if not hmac.compare_digest(cookie_state.encode(), args["state"].encode()):
            raise LoginRefused(400, _OTHER_BROWSER, "LTI 1.3: state missing from the cookies")
        encoded = args["id_token"]
        try:
            claimed_issuer = jwt.decode(encoded, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as error:
            raise LoginRefused(
                400, "The launch could not be read.", f"LTI 1.3: malformed id_token: {error}"
            ) from None
        platform = self.platform_for(claimed_issuer)
        if state["iss"] != platform.issuer:
            raise LoginRefused(
                400,
                _OTHER_BROWSER,
                f"LTI 1.3: state issued for {state['iss']!r}, token from {platform.issuer!r}",
            )
        key = await self._signing_key(platform, encoded)
        id_token = self._decode(encoded, key, platform, validator.time_leeway)
        check_claim_types(id_token)
        try:
            validator.validate_id_token(id_token)
            validator.validate_azp_claim(id_token, platform.client_ids)
        except ValidationError as error:
            # A token that is too old or meant for another tool is unauthorised; a token that
            # lacks required claims is a malformed request.
            status = 401 if isinstance(error, (TokenError, InvalidAudienceError)) else 400
            raise LoginRefused(
                status, f"The launch is not valid. {_RELAUNCH}", f"LTI 1.3: {error}"
            ) from None
        deployment_id = id_token.get(DEPLOYMENT_CLAIM)
        if deployment_id not in platform.deployment_ids:
            raise LoginRefused(
                401,
                "This hub does not know this deployment of the tool in Moodle.",
                f"LTI 1.3: unknown deployment_id {deployment_id!r} from {platform.issuer!r}",
            )
        nonce = id_token.get("nonce")
        if not nonce:
            raise LoginRefused(
                400, f"The launch is not valid. {_RELAUNCH}", "LTI 1.3: id_token without nonce"
            )
        # A launch refused from here on still uses up the nonce, and a replay, even one from
        # another browser, is told so first. The token is validly signed by a trusted
        # platform, so recording its nonce costs nothing.
        claim = NonceClaim(
            f"lti13:{platform.issuer}", nonce, validator.max_age + validator.time_leeway
        )
        with nonces.recorded_if_refused(handler.db, claim):
            nonce_secret = take_launch_cookie(handler, nonce_cookie_name(state["state_id"]))
            if not nonce_secret or not hmac.compare_digest(
                nonce_for(nonce_secret).encode(), nonce.encode()
            ):
                raise LoginRefused(
                    400, _OTHER_BROWSER, "LTI 1.3: nonce does not match the nonce state cookie"
                )
            return self._launch_from(id_token, state, _client_id(id_token, platform), claim)

    def _username(self, id_token: dict[str, Any]) -> str:
        """The first username claim present; every other one present must name the same user."""
        found = [
            (path, value)
            for path in self.username_claims
            if isinstance(value := lookup_claim(id_token, path), str) and value.strip()
        ]
        if not found:
            raise LoginRefused(
                400,
                "Moodle did not send your username. Ask the site administrator to let the tool "
                "see the launcher's name (or add the custom parameter username=$User.username).",
                f"LTI 1.3: none of {self.username_claims} in the id_token from "
                f"{id_token.get('iss')!r}",
            )
        if len({normalize_username(value) for _, value in found}) > 1:
            raise LoginRefused(
                400,
                "The usernames in the launch do not agree (a custom username parameter differs "
                "from your Moodle username). Ask the course's teacher to remove the custom "
                "parameter `username` from the activity.",
                f"LTI 1.3: username claims disagree: {found}",
            )
        return found[0][1]

    def _launch_from(
        self, id_token: dict[str, Any], state: dict[str, Any], client_id: str, nonce: NonceClaim
    ) -> ValidatedLaunch:
        context = id_token.get(CONTEXT_CLAIM) or {}
        context_id = context.get("id") or None
        custom = id_token.get(LTI13_CUSTOM_CLAIM) or {}
        return ValidatedLaunch(
            username=self._username(id_token),
            facts=LoginFacts(
                source=LTI13,
                lti_roles=tuple(id_token.get(ROLES_CLAIM) or ()),
                context_id=context_id,
            ),
            course_title=context.get("title", ""),
            next_url=state.get("next_url") or custom.get("next"),
            issuer=id_token["iss"],
            client_id=client_id,
            subject=id_token["sub"],
            nonce=nonce,
            launch_data=id_token,
        )


def _client_id(id_token: dict[str, Any], platform: Platform) -> str:
    """The platform's client id this token was issued to: `azp` when present, else the `aud`
    value among the platform's client ids (jwt.decode made sure there is one)."""
    azp = id_token.get("azp")
    if azp is not None:
        if azp not in platform.client_ids:
            raise LoginRefused(
                401,
                "The launch was meant for another tool.",
                f"LTI 1.3: azp {azp!r} is not a client id of {platform.issuer!r}",
            )
        return azp
    audiences = id_token["aud"]
    return next(
        aud
        for aud in ([audiences] if isinstance(audiences, str) else audiences)
        if aud in platform.client_ids
    )


class LTI13LoginHandler(RefusalPagesMixin, ServesSource, BaseHandler):
    """Third-party initiated login (at /hub/lti13/oauth_login): redirect to the platform."""

    login_source = LTI13
    source: LTI13Login

    def check_xsrf_cookie(self) -> None:
        # The platform posts the login initiation from its own site: there is no hub form.
        return

    async def post(self) -> None:
        args = launch_arguments(self.request, "LTI 1.3 login")
        try:
            LTI13LaunchValidator(parent=self.source).validate_login_request(args)
        except ValidationError as error:
            raise LoginRefused(
                400, f"The launch is incomplete. {_RELAUNCH}", f"LTI 1.3 login: {error}"
            ) from None
        platform = self.source.platform_for(args["iss"], args.get("client_id"))
        deployment_id = args.get("lti_deployment_id")
        if deployment_id and deployment_id not in platform.deployment_ids:
            raise LoginRefused(
                401,
                "This hub does not know this deployment of the tool in Moodle.",
                f"LTI 1.3 login: unknown deployment_id {deployment_id!r} from {platform.issuer!r}",
            )
        if in_a_frame(self):
            # No cookies yet: a framed launch would lose them (framed_launches explains).
            await answer_framed_launch(
                self,
                platform_url=platform.authorize_url,
                platform_name=urlsplit(platform.authorize_url).hostname or platform.issuer,
                tool_name=self.source.tool_name,
                form_action=hub_url(self, LOGIN_PATH),
                fields=args,
            )
            return
        next_url = args.get("next") or next_from_target_link(args["target_link_uri"])
        state_id = uuid.uuid4().hex
        state = issue_state(state_id, platform.issuer, next_url)
        # Cookies named by the state id: a second launch in another tab keeps the first one's.
        self._set_launch_cookie(state_cookie_name(state_id), state)
        nonce_secret = secrets.token_urlsafe(32)
        self._set_launch_cookie(nonce_cookie_name(state_id), nonce_secret)
        params = {
            "response_type": "id_token",
            "scope": "openid",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": args.get("client_id") or platform.client_ids[0],
            "redirect_uri": hub_url(self, CALLBACK_PATH),
            "login_hint": args["login_hint"],
            "nonce": nonce_for(nonce_secret),
            "state": state,
        }
        if args.get("lti_message_hint"):
            params["lti_message_hint"] = args["lti_message_hint"]
        self.redirect(url_concat(platform.authorize_url, params))

    get = post

    def _set_launch_cookie(self, key: str, value: str) -> None:
        samesite = {}
        if get_browser_protocol(self.request) == "https":
            samesite = {"samesite": self.source.state_cookie_samesite, "secure": True}
        # Named per launch, so an abandoned launch's cookies must not pile up in the browser;
        # the platform answers the redirect at once, and the id_token lives no longer anyway.
        self._set_cookie(
            key,
            value,
            expires_days=None,
            max_age=_LAUNCH_COOKIE_MAX_AGE_S,
            httponly=True,
            encrypted=True,
            **samesite,
        )


class LTI13ConfigHandler(ServesSource, BaseHandler):
    """Tool configuration JSON (at /hub/lti13/config), with every URL under the hub prefix."""

    source: LTI13Login

    def get(self) -> None:
        lti13 = self.source
        self.set_header("Content-Type", "application/json")
        self.write(
            {
                "title": lti13.tool_name,
                "description": lti13.tool_description,
                "target_link_uri": hub_url(self, LAUNCH_PATH),
                "oidc_initiation_url": hub_url(self, LOGIN_PATH),
                "redirect_uris": [hub_url(self, CALLBACK_PATH), hub_url(self, LAUNCH_PATH)],
                "custom_fields": {"username": "$User.username"},
                "scopes": [],
            }
        )
