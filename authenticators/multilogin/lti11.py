"""LTI 1.1 launches (Moodle's "External tool" with a consumer key and secret).

The launch is checked here with oauthlib's signature functions rather than ltiauthenticator's
LTI11LaunchValidator (1.6.3), which logs the expected signature at DEBUG, fills its in-memory
nonce cache before the signature check (so unsigned junk flushes it), and answers a
non-numeric `oauth_timestamp` with a 500. Replays are refused by the hub database (nonces.py).
"""

from __future__ import annotations

import hmac
import os
import re
import time
from typing import Any

from jupyterhub.handlers import BaseHandler
from ltiauthenticator.lti11.auth import LTI11Authenticator
from ltiauthenticator.lti11.constants import LTI11_LAUNCH_PARAMS_REQUIRED
from ltiauthenticator.lti11.handlers import LTI11ConfigHandler
from oauthlib.oauth1.rfc5849 import Client, signature
from traitlets import Dict, Int, List, Unicode, default

from .entitlements import LTI11, LoginFacts, split_lti11_roles
from .errors import LoginRefused
from .launches import ValidatedLaunch, launch_arguments
from .nonces import NonceClaim, NonceStore
from .secrets_env import StartupRefused, check_secret, secrets_from
from .source_routes import UpstreamSourcePage
from .usernames import first_present

LTI11_CONFIG_PATH = "lti11/config"

# A timestamp more than this far from the hub's clock is refused; a nonce can be replayed only
# while its timestamp is accepted, so keeping it a while longer than that is enough.
_TIMESTAMP_WINDOW_S = 30
# Seconds since 1970 as OAuth sends them: digits only (no sign, exponent or spaces).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_RELAUNCH = "Go back to Moodle and open the link again."


def check_signed_launch(
    launch_url: str, args: dict[str, str], consumers: dict[str, str], now: float
) -> str:
    """Check the OAuth 1.0a HMAC-SHA1 signature and timestamp; the consumer key on success.

    Nothing here logs: the expected signature would let anyone who reads the log replay a
    launch once the nonce has expired.
    """
    missing = [name for name in LTI11_LAUNCH_PARAMS_REQUIRED if not args.get(name)]
    if missing:
        raise LoginRefused(
            400,
            f"The launch from Moodle is incomplete. {_RELAUNCH}",
            f"LTI 1.1: missing or empty {', '.join(missing)}",
        )
    consumer_key = args["oauth_consumer_key"]
    secret = consumers.get(consumer_key)
    if secret is None:
        raise LoginRefused(
            401,
            "This hub does not know the Moodle site that sent you (unknown consumer key).",
            f"LTI 1.1: unknown oauth_consumer_key {consumer_key!r}",
        )
    if args["oauth_signature_method"] != "HMAC-SHA1" or args["oauth_version"] != "1.0":
        raise LoginRefused(
            400,
            "The launch from Moodle is not signed as this hub expects (OAuth 1.0 HMAC-SHA1).",
            f"LTI 1.1: signature method {args['oauth_signature_method']!r}, "
            f"version {args['oauth_version']!r}",
        )
    timestamp = args["oauth_timestamp"]
    if not _TIMESTAMP.fullmatch(timestamp):
        raise LoginRefused(
            400,
            f"The launch from Moodle is not valid (bad timestamp). {_RELAUNCH}",
            f"LTI 1.1: malformed oauth_timestamp {timestamp[:40]!r}",
        )
    if abs(now - int(timestamp)) > _TIMESTAMP_WINDOW_S:
        raise LoginRefused(
            401,
            f"The launch link has expired. {_RELAUNCH}",
            f"LTI 1.1: oauth_timestamp {int(now) - int(timestamp)} s off the hub's clock",
        )
    try:
        base_string = signature.signature_base_string(
            "POST",
            signature.base_string_uri(launch_url),
            signature.normalize_parameters(signature.collect_parameters(body=list(args.items()))),
        )
    except ValueError as error:
        raise LoginRefused(
            400, "The launch could not be read.", f"LTI 1.1: bad launch URL: {error}"
        ) from None
    expected = signature.sign_hmac_sha1_with_client(
        base_string, Client(consumer_key, client_secret=secret)
    )
    if not hmac.compare_digest(expected.encode(), args["oauth_signature"].encode()):
        raise LoginRefused(
            401,
            "The launch could not be verified (bad signature). Check the tool's secret.",
            f"LTI 1.1: bad oauth_signature from consumer {consumer_key!r}",
        )
    return consumer_key


class LTI11Login(LTI11Authenticator):
    """The LTI 1.1 part of MultiLoginAuthenticator; configure as `c.LTI11Login.<option>`.

    `consumers` (inherited) maps each trusted consumer key to its secret, and
    `consumer_secret_env` each further key to the environment variable holding its secret;
    nothing else is trusted.
    """

    consumer_secret_env = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="""Consumer key to the name of the environment variable holding its secret (in
        Kubernetes: `hub.extraEnv.<NAME>.valueFrom.secretKeyRef`), so that no secret sits in
        configuration. Added to `consumers` at start; a key in both, or a variable unset,
        empty, or with whitespace at an end, stops the hub with one line naming it.""",
    )

    username_keys = List(
        Unicode(),
        config=True,
        help="""Launch parameters tried in order for the username. Moodle sends the Moodle
        username as `ext_user_username` (only when the tool shares the launcher's name).
        No fallback to `user_id`: a numeric Moodle id would make a second account.""",
    )
    consumer_trust = Dict(
        config=True,
        help="""Per consumer key, what that Moodle may assert about who a person is: `name`,
        `authoritative_usernames`, `unlinked_identities` (platform_trust.schema.json; see the
        README's trust model). A key not listed gets the defaults: named after the key,
        authoritative for no username, unlinked launches asked to link.""",
    )
    nonce_lifetime_s = Int(
        3 * _TIMESTAMP_WINDOW_S,
        config=True,
        help="Seconds a used oauth_nonce is remembered in the hub database.",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        twice = sorted(set(self.consumers) & set(self.consumer_secret_env))
        if twice:
            raise StartupRefused(
                f"LTI11Login.consumers and LTI11Login.consumer_secret_env both give the secret "
                f"of {', '.join(map(repr, twice))}; give each once"
            )
        for key, secret in self.consumers.items():
            check_secret(secret, f"LTI11Login.consumers[{key!r}]")
        from_env = secrets_from(
            self.consumer_secret_env, "LTI11Login.consumer_secret_env", os.environ
        )
        self.consumers = {**self.consumers, **from_env}

    @default("username_keys")
    def _username_keys_default(self) -> list[str]:
        return ["ext_user_username"]

    @default("username_key")
    def _username_key_default(self) -> str:
        # Silences ltiauthenticator's deprecation warning; username_keys is what counts here.
        return "ext_user_username"

    def validate_launch(self, handler: BaseHandler, nonces: NonceStore) -> ValidatedLaunch:
        """Check a launch POST; raise LoginRefused when anything is wrong."""
        args = launch_arguments(handler.request, "LTI 1.1")
        launch_url = (
            f"{self.get_uri_scheme(handler.request)}://{handler.request.host}{handler.request.uri}"
        )
        consumer_key = check_signed_launch(launch_url, args, self.consumers, time.time())
        nonce = NonceClaim(f"lti11:{consumer_key}", args["oauth_nonce"], self.nonce_lifetime_s)
        with nonces.recorded_if_refused(handler.db, nonce):
            return self._launch_from(args, consumer_key, nonce, handler)

    def _launch_from(
        self, args: dict[str, str], consumer_key: str, nonce: NonceClaim, handler: BaseHandler
    ) -> ValidatedLaunch:
        found = first_present(args, self.username_keys)
        if found is None:
            raise LoginRefused(
                400,
                "Moodle did not send your username. Ask the course's teacher to let the tool "
                "see the launcher's name.",
                f"LTI 1.1: none of {self.username_keys} in the launch from {consumer_key!r}",
            )
        context_id = args.get("context_id") or None
        launch_data: dict[str, Any] = {k: v for k, v in args.items() if not k.startswith("oauth_")}
        return ValidatedLaunch(
            username=found[1],
            facts=LoginFacts(
                source=LTI11,
                lti_roles=split_lti11_roles(args.get("roles", "")),
                context_id=context_id,
            ),
            course_title=args.get("context_title", ""),
            next_url=args.get("custom_next") or handler.get_query_argument("next", None),
            issuer=consumer_key,
            client_id="",
            subject=args["user_id"],
            nonce=nonce,
            launch_data=launch_data,
        )


class LTI11ToolConfigHandler(UpstreamSourcePage, LTI11ConfigHandler):
    """ltiauthenticator's XML tool configuration (at /hub/lti11/config), from LTI11Login."""
