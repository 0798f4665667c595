"""LTI 1.3 launches as Moodle sends them: third-party initiated login, then an id_token.

1. The course page's link starts a launch: the platform remembers it under a launch id and
   auto-posts the login initiation (iss, login_hint, target_link_uri, lti_message_hint, ...) to
   the tool.
2. The tool redirects the browser to the platform's auth endpoint (`/mod/lti/auth.php`, as in
   Moodle) with an OIDC authentication request; the platform checks it like Moodle does and
   auto-posts an RS256 id_token with Moodle's claims and the state to the redirect_uri.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from mock_moodle import keys
from mock_moodle.config import Config, Course, User
from mock_moodle.launches import LaunchError, LaunchForm, custom_parameters, find
from mock_moodle.roles import lti13_roles

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
INVALID_MODES = {
    "bad_signature": "id_token signed with a key that is not in the JWKS (same kid)",
    "wrong_audience": "aud is a client id other than the tool's",
    "unknown_issuer": "iss is a platform the tool does not know",
    "unknown_deployment": "deployment_id is one the tool does not know",
    "missing_nonce": "id_token without a nonce claim",
    "reused_nonce": "correctly signed, but carrying the nonce of the previous valid launch",
    "state_mismatch": "the state posted back is not the one the tool sent",
    "expired_token": "id_token expired an hour ago",
}
UNKNOWN_ISSUER = "https://unknown-moodle.example.org"
UNKNOWN_DEPLOYMENT = "unknown-deployment"
WRONG_AUDIENCE = "some-other-tool"
TOKEN_LIFETIME_S = 60  # Moodle's id_tokens live one minute.
EXPIRED_AGE_S = 3600
PENDING_LIMIT = 1000
AUTH_REQUEST_FIXED = {
    "scope": "openid",
    "response_type": "id_token",
    "response_mode": "form_post",
    "prompt": "none",
}
AUTH_REQUEST_REQUIRED = ("client_id", "redirect_uri", "login_hint", "lti_message_hint", "state")


@dataclass(frozen=True)
class PendingLaunch:
    """A launch started from the course page, waiting for the tool's auth request."""

    user: User
    course: Course
    invalid: str | None


def id_token_claims(
    config: Config, user: User, course: Course, nonce: str | None, now: int
) -> dict[str, Any]:
    """The claims of Moodle's LtiResourceLinkRequest for this user and course."""
    claims: dict[str, Any] = {
        "iss": config.issuer,
        "aud": config.client_id,
        "sub": user.user_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_S,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "name": user.full_name,
        "email": user.email,
        CLAIM + "deployment_id": config.deployment_id,
        CLAIM + "target_link_uri": config.tool.lti13_target_link_uri,
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "version": "1.3.0",
        CLAIM + "resource_link": {
            "id": course.resource_link_id,
            "title": course.resource_link_title,
            "description": "",
        },
        CLAIM + "roles": lti13_roles(user.roles),
        CLAIM + "context": {
            "id": course.context_id,
            "label": course.label,
            "title": course.title,
            "type": ["CourseSection"],
        },
        CLAIM + "tool_platform": {
            "product_family_code": "moodle",
            "version": config.moodle_version,
            "guid": config.platform_guid,
            "name": config.platform_name,
            "description": config.platform_name,
        },
        CLAIM + "launch_presentation": {
            "locale": "en",
            "document_target": "window",
            "return_url": f"{config.url}/mod/lti/return.php?course={course.context_id}",
        },
        CLAIM + "lis": {"person_sourcedid": "", "course_section_sourcedid": ""},
        CLAIM + "custom": custom_parameters(user, course),
        CLAIM + "ext": {"user_username": user.username, "lms": "moodle-2"},
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return claims


class Lti13Platform:
    """Starts LTI 1.3 launches and answers the tool's authentication requests."""

    def __init__(self, config: Config, signing_key: rsa.RSAPrivateKey) -> None:
        self.config = config
        self.signing_key = signing_key
        # Signs `bad_signature` tokens: a key of the same shape that is not in our JWKS.
        self.foreign_key = keys.generate()
        self.pending: OrderedDict[str, PendingLaunch] = OrderedDict()
        self.last_valid_nonce: str | None = None

    @property
    def auth_path(self) -> str:
        return "/mod/lti/auth.php"

    @property
    def jwks_path(self) -> str:
        return "/mod/lti/certs.php"

    def login_initiation(
        self, username: str, context_id: str, invalid: str | None = None
    ) -> LaunchForm:
        """Step 1: the form that starts the tool's third-party initiated login."""
        user, course = find(self.config.users, self.config.courses, username, context_id)
        if invalid is not None and invalid not in INVALID_MODES:
            raise LaunchError(400, f"unknown LTI 1.3 invalid mode {invalid!r}")
        if invalid == "reused_nonce" and self.last_valid_nonce is None:
            raise LaunchError(
                409,
                "no earlier valid LTI 1.3 launch whose nonce could be reused; launch once first",
            )
        launch_id = secrets.token_urlsafe(16)
        self.pending[launch_id] = PendingLaunch(user, course, invalid)
        while len(self.pending) > PENDING_LIMIT:
            self.pending.popitem(last=False)
        return LaunchForm(
            self.config.tool.lti13_login_url,
            {
                "iss": self.config.issuer or "",
                "target_link_uri": self.config.tool.lti13_target_link_uri,
                "login_hint": user.user_id,
                "lti_message_hint": json.dumps(
                    {"cmid": course.resource_link_id, "launchid": launch_id}
                ),
                "client_id": self.config.client_id,
                "lti_deployment_id": self.config.deployment_id,
            },
        )

    def authenticate(self, request: dict[str, str]) -> LaunchForm:
        """Step 2: check the tool's OIDC authentication request; answer with the id_token form."""
        launch = self.check_auth_request(request)
        nonce = request["nonce"]
        if launch.invalid is None:
            self.last_valid_nonce = nonce
        return LaunchForm(
            request["redirect_uri"],
            {
                "id_token": self.id_token(launch, nonce),
                "state": secrets.token_urlsafe(24)
                if launch.invalid == "state_mismatch"
                else request["state"],
            },
        )

    def check_auth_request(self, request: dict[str, str]) -> PendingLaunch:
        for name, expected in AUTH_REQUEST_FIXED.items():
            if request.get(name) != expected:
                raise LaunchError(400, f"invalid_request: {name} must be {expected!r}")
        for name in (*AUTH_REQUEST_REQUIRED, "nonce"):
            if not request.get(name):
                raise LaunchError(400, f"invalid_request: {name} is missing")
        if request["client_id"] != self.config.client_id:
            raise LaunchError(
                400, f"unauthorized_client: unknown client_id {request['client_id']!r}"
            )
        if request["redirect_uri"] not in self.config.tool.lti13_redirect_uris:
            raise LaunchError(
                400,
                f"invalid_request: redirect_uri {request['redirect_uri']!r} is not registered "
                f"for the tool (registered: {', '.join(self.config.tool.lti13_redirect_uris)})",
            )
        try:
            launch_id = json.loads(request["lti_message_hint"])["launchid"]
        except (ValueError, TypeError, KeyError):
            raise LaunchError(400, "invalid_request: lti_message_hint is not ours") from None
        launch = self.pending.pop(launch_id, None)
        if launch is None:
            raise LaunchError(400, "invalid_request: this launch is unknown or was already used")
        if request["login_hint"] != launch.user.user_id:
            raise LaunchError(400, "invalid_request: login_hint is not the launching user")
        return launch

    def id_token(self, launch: PendingLaunch, nonce: str) -> str:
        invalid = launch.invalid
        now = int(time.time()) - (EXPIRED_AGE_S if invalid == "expired_token" else 0)
        token_nonce = {"missing_nonce": None, "reused_nonce": self.last_valid_nonce}.get(
            invalid or "", nonce
        )
        claims = id_token_claims(self.config, launch.user, launch.course, token_nonce, now)
        if invalid == "wrong_audience":
            claims["aud"] = WRONG_AUDIENCE
        elif invalid == "unknown_issuer":
            claims["iss"] = UNKNOWN_ISSUER
        elif invalid == "unknown_deployment":
            claims[CLAIM + "deployment_id"] = UNKNOWN_DEPLOYMENT
        key = self.foreign_key if invalid == "bad_signature" else self.signing_key
        return jwt.encode(
            claims, key, algorithm="RS256", headers={"kid": keys.key_id(self.signing_key)}
        )
