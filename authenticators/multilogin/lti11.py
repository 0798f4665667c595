"""LTI 1.1 launches (Moodle's "External tool" with a consumer key and secret).

Signature, required parameters, consumer key and timestamp are checked by ltiauthenticator's
LTI11LaunchValidator; this module adds replay protection in the hub database, the username
mapping, and clear refusals.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.handlers import BaseHandler
from ltiauthenticator.lti11.auth import LTI11Authenticator
from ltiauthenticator.lti11.validator import LTI11LaunchValidator
from ltiauthenticator.utils import convert_request_to_dict
from tornado.web import HTTPError
from traitlets import Dict, Int, List, Unicode, default

from .entitlements import LTI11, LoginFacts, split_lti11_roles
from .errors import LoginRefused
from .launches import ValidatedLaunch
from .nonces import NonceStore
from .usernames import first_present

# ltiauthenticator accepts timestamps up to 30 s off; a nonce can be replayed only while its
# timestamp is accepted, so keeping it a while longer than that is enough.
_TIMESTAMP_WINDOW_S = 30


def _refusal_for(error: HTTPError) -> LoginRefused:
    """A message for the person from ltiauthenticator's technical one."""
    reason = error.log_message or str(error)
    lowered = reason.lower()
    if "consumer_key" in lowered:
        message = "This hub does not know the Moodle site that sent you (unknown consumer key)."
    elif "timestamp" in lowered and "already used" not in lowered:
        message = "The launch link has expired. Go back to Moodle and open the link again."
    elif "already used" in lowered:
        message = "This launch was already used. Go back to Moodle and open the link again."
    elif "signature" in lowered:
        message = "The launch could not be verified (bad signature). Check the tool's secret."
    else:
        message = "The launch from Moodle is incomplete. Go back to Moodle and try again."
    return LoginRefused(400 if error.status_code == 400 else 401, message, f"LTI 1.1: {reason}")


class LTI11Login(LTI11Authenticator):
    """The LTI 1.1 part of MultiLoginAuthenticator; configure as `c.LTI11Login.<option>`.

    `consumers` (inherited) maps each trusted consumer key to its secret; nothing else is trusted.
    """

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

    @default("username_keys")
    def _username_keys_default(self) -> list[str]:
        return ["ext_user_username"]

    @default("username_key")
    def _username_key_default(self) -> str:
        # Silences ltiauthenticator's deprecation warning; username_keys is what counts here.
        return "ext_user_username"

    def validate_launch(self, handler: BaseHandler, nonces: NonceStore) -> ValidatedLaunch:
        """Check a launch POST; raise LoginRefused when anything is wrong."""
        args = convert_request_to_dict(handler.request.arguments)
        launch_url = (
            f"{self.get_uri_scheme(handler.request)}://{handler.request.host}{handler.request.uri}"
        )
        try:
            LTI11LaunchValidator(self.consumers).validate_launch_request(
                launch_url, handler.request.headers, args
            )
        except HTTPError as error:
            raise _refusal_for(error) from None
        consumer_key = args["oauth_consumer_key"]
        if not nonces.claim(
            handler.db, f"lti11:{consumer_key}", args["oauth_nonce"], self.nonce_lifetime_s
        ):
            raise LoginRefused(
                401,
                "This launch was already used. Go back to Moodle and open the link again.",
                f"LTI 1.1: replayed oauth_nonce from consumer {consumer_key!r}",
            )
        found = first_present(args, self.username_keys)
        if found is None:
            raise LoginRefused(
                400,
                "Moodle did not send your username. Ask the course's teacher to let the tool "
                "see the launcher's name.",
                f"LTI 1.1: none of {self.username_keys} in the launch from {consumer_key!r}",
            )
        context_id = args.get("context_id") or None
        course = (
            {"context_id": context_id, "title": args.get("context_title", "")}
            if context_id
            else None
        )
        launch_data: dict[str, Any] = {k: v for k, v in args.items() if not k.startswith("oauth_")}
        return ValidatedLaunch(
            username=found[1],
            issuer=consumer_key,
            client_id="",
            subject=args.get("user_id", ""),
            facts=LoginFacts(
                source=LTI11,
                lti_roles=split_lti11_roles(args.get("roles", "")),
                context_id=context_id,
            ),
            course=course,
            next_url=args.get("custom_next") or handler.get_query_argument("next", None),
            launch_data=launch_data,
        )
