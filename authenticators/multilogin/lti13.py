"""LTI 1.3 launches from one or more trusted platforms (Moodle sites).

Reuses ltiauthenticator's launch validator (required claims, message type, version, iat age,
azp) and its state/nonce cookie handling; adds what it lacks: several platforms, deployment ids,
cached JWKS fetched off the event loop, nonces recorded in the hub database, routes that work
under a URL prefix, and cookies that survive a cross-site launch.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from jupyterhub.handlers import BaseHandler
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.constants import LTI13_CUSTOM_CLAIM
from ltiauthenticator.lti13.error import InvalidAudienceError, TokenError, ValidationError
from ltiauthenticator.lti13.handlers import (
    LTI13CallbackHandler,
    LTI13LoginInitHandler,
    _deserialize_state,
    _serialize_state,
)
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from ltiauthenticator.utils import convert_request_to_dict, get_browser_protocol
from tornado.httputil import url_concat
from tornado.web import HTTPError
from traitlets import List, Unicode, default, validate

from . import schemas
from .entitlements import LTI13, LoginFacts
from .errors import LoginRefused, RefusalPagesMixin
from .launches import ValidatedLaunch
from .nonces import NonceStore
from .urls import hub_url, next_from_target_link
from .usernames import first_present

CALLBACK_PATH = "lti13/oauth_callback"
LOGIN_PATH = "lti13/oauth_login"
CONFIG_PATH = "lti13/config"
LAUNCH_PATH = "lti/launch"

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DEPLOYMENT_CLAIM = CLAIM + "deployment_id"
CONTEXT_CLAIM = CLAIM + "context"
ROLES_CLAIM = CLAIM + "roles"
EXT_CLAIM = CLAIM + "ext"

_RELAUNCH = "Go back to Moodle and open the link again."


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
        help="""id_token claims tried in order for the username; `CLAIM#KEY` reads KEY inside
        an object claim. Default: the custom parameter `username` (set it in Moodle's tool
        settings as `username=$User.username`), then Moodle's `ext` claim `user_username`.
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
        return [f"{LTI13_CUSTOM_CLAIM}#username", f"{EXT_CLAIM}#user_username"]

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
        platform = self.trusted_platforms().get(issuer or "")
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
        except jwt.PyJWKClientError as error:
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

    async def validate_launch(
        self, handler: LTI13CallbackHandler, nonces: NonceStore
    ) -> ValidatedLaunch:
        """Check an id_token POST; raise LoginRefused when anything is wrong."""
        args = convert_request_to_dict(handler.request.arguments)
        validator = LTI13LaunchValidator(parent=self)
        try:
            validator.validate_auth_response(args)
        except ValidationError as error:
            raise LoginRefused(
                400, f"The launch is incomplete. {_RELAUNCH}", f"LTI 1.3: {error}"
            ) from None
        try:
            handler.check_state()
        except HTTPError as error:
            raise LoginRefused(
                400,
                "The launch did not return to the browser that started it. " + _RELAUNCH,
                f"LTI 1.3: {error.log_message}",
            ) from None
        encoded = args["id_token"]
        try:
            claimed_issuer = jwt.decode(encoded, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as error:
            raise LoginRefused(
                400, "The launch could not be read.", f"LTI 1.3: malformed id_token: {error}"
            ) from None
        platform = self.platform_for(claimed_issuer)
        state = _deserialize_state(args["state"])
        if state.get("iss") != platform.issuer:
            raise LoginRefused(
                400,
                "The launch did not return to the browser that started it. " + _RELAUNCH,
                f"LTI 1.3: state issued for {state.get('iss')!r}, token from {platform.issuer!r}",
            )
        key = await self._signing_key(platform, encoded)
        id_token = self._decode(encoded, key, platform, validator.time_leeway)
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
        # Recorded before the cookie check, so a nonce seen before is reported as reused even when
        # the replay comes from another browser. The token is validly signed by a trusted
        # platform, so recording its nonce costs nothing.
        lifetime = validator.max_age + validator.time_leeway
        if not nonces.claim(handler.db, f"lti13:{platform.issuer}", nonce, lifetime):
            raise LoginRefused(
                401,
                f"This launch was already used. {_RELAUNCH}",
                f"LTI 1.3: reused nonce from {platform.issuer!r}",
            )
        try:
            handler.check_nonce(id_token)
        except HTTPError as error:
            raise LoginRefused(
                400,
                "The launch did not return to the browser that started it. " + _RELAUNCH,
                f"LTI 1.3: {error.log_message}",
            ) from None
        return self._launch_from(id_token, state)

    def _launch_from(self, id_token: dict[str, Any], state: dict[str, Any]) -> ValidatedLaunch:
        found = first_present(id_token, self.username_claims)
        if found is None:
            raise LoginRefused(
                400,
                "Moodle did not send your username. Ask the site administrator to add the "
                "custom parameter username=$User.username to the tool.",
                f"LTI 1.3: none of {self.username_claims} in the id_token from "
                f"{id_token.get('iss')!r}",
            )
        context = id_token.get(CONTEXT_CLAIM) or {}
        context_id = str(context["id"]) if context.get("id") else None
        roles = id_token.get(ROLES_CLAIM) or []
        custom = id_token.get(LTI13_CUSTOM_CLAIM) or {}
        audience = id_token.get("azp") or id_token.get("aud")
        return ValidatedLaunch(
            username=found[1],
            issuer=id_token["iss"],
            client_id=audience if isinstance(audience, str) else audience[0],
            subject=id_token["sub"],
            facts=LoginFacts(source=LTI13, lti_roles=tuple(roles), context_id=context_id),
            course={"context_id": context_id, "title": context.get("title", "")}
            if context_id
            else None,
            next_url=state.get("next_url") or custom.get("next"),
            launch_data=id_token,
        )


class LTI13LoginHandler(RefusalPagesMixin, LTI13LoginInitHandler):
    """Third-party initiated login (at /hub/lti13/oauth_login): redirect to the platform."""

    login_source = LTI13

    @property
    def lti13(self) -> LTI13Login:
        return self.authenticator.lti13_login

    def post(self) -> None:
        args = convert_request_to_dict(self.request.arguments)
        try:
            LTI13LaunchValidator(parent=self.lti13).validate_login_request(args)
        except ValidationError as error:
            raise LoginRefused(
                400, f"The launch is incomplete. {_RELAUNCH}", f"LTI 1.3 login: {error}"
            ) from None
        platform = self.lti13.platform_for(args["iss"], args.get("client_id"))
        deployment_id = args.get("lti_deployment_id")
        if deployment_id and deployment_id not in platform.deployment_ids:
            raise LoginRefused(
                401,
                "This hub does not know this deployment of the tool in Moodle.",
                f"LTI 1.3 login: unknown deployment_id {deployment_id!r} from {platform.issuer!r}",
            )
        next_url = args.get("next") or next_from_target_link(args["target_link_uri"])
        state = _serialize_state(
            {"state_id": uuid.uuid4().hex, "next_url": next_url, "iss": platform.issuer}
        )
        self.set_state_cookie(state)
        params = {
            "response_type": "id_token",
            "scope": "openid",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": args.get("client_id") or platform.client_ids[0],
            "redirect_uri": hub_url(self, CALLBACK_PATH),
            "login_hint": args["login_hint"],
            "nonce": self.generate_nonce(),
            "state": state,
        }
        if args.get("lti_message_hint"):
            params["lti_message_hint"] = args["lti_message_hint"]
        self.redirect(url_concat(platform.authorize_url, params))

    get = post

    def _set_oauth_cookie(self, key: str, value: str) -> None:
        samesite = {}
        if get_browser_protocol(self.request) == "https":
            samesite = {"samesite": self.lti13.state_cookie_samesite, "secure": True}
        self._set_cookie(key, value, expires_days=1, httponly=True, encrypted=True, **samesite)


class LTI13ConfigHandler(BaseHandler):
    """Tool configuration JSON (at /hub/lti13/config), with every URL under the hub prefix."""

    def get(self) -> None:
        lti13 = self.authenticator.lti13_login
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
