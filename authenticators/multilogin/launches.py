"""What an LTI launch brings (its form arguments, read strictly) and what a validated launch
hands to MultiLoginAuthenticator.authenticate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tornado.httputil import HTTPServerRequest

from .entitlements import LoginFacts
from .errors import LoginRefused
from .nonces import NonceClaim


@dataclass(frozen=True)
class ValidatedLaunch:
    """An LTI launch whose signature and trust checks passed.

    Only the launch handlers build it, after validation, so authenticate() can tell a checked
    launch from form data. Its `nonce` is not recorded yet: the sign-in records it in the
    transaction that records the login, and a refusal records it alone (nonces.py).

    `issuer`, `client_id` and `subject` name the person at the platform, whatever username the
    platform claims: LTI 1.1: the consumer key, "" and the launch's `user_id`; LTI 1.3: `iss`,
    the client id the token was issued to (`azp`, else the matching `aud`) and `sub`.
    """

    username: str
    facts: LoginFacts
    # The course's title; the course is the platform's and facts.context_id.
    course_title: str
    next_url: str | None
    issuer: str
    client_id: str
    subject: str
    nonce: NonceClaim
    # Launch parameters or id_token claims, kept in auth_state for the spawner.
    launch_data: dict[str, Any] = field(default_factory=dict)


def launch_arguments(request: HTTPServerRequest, source: str) -> dict[str, str]:
    """The query and body arguments of a launch, each exactly once and UTF-8.

    Every LTI parameter is single-valued; a second value (in the body or the query) would let
    what is checked (the first, say) differ from what is used, so it is refused outright.
    NUL is refused too: Moodle never sends it and PostgreSQL text cannot store it.
    """
    arguments: dict[str, str] = {}
    # Tornado keeps the values as bytes and decodes the names as Latin-1.
    for raw_name, values in request.arguments.items():
        try:
            name = raw_name.encode("latin-1").decode("utf-8")
            decoded = [value.decode("utf-8") for value in values]
        except UnicodeError:
            raise LoginRefused(
                400,
                "The launch from Moodle could not be read (it is not UTF-8). Go back to Moodle "
                "and open the link again.",
                f"{source}: argument {raw_name!r} is not UTF-8",
            ) from None
        if len(decoded) != 1:
            raise LoginRefused(
                400,
                "The launch from Moodle is not valid (a parameter came more than once). Go back "
                "to Moodle and open the link again.",
                f"{source}: argument {name!r} sent {len(decoded)} times",
            )
        if "\x00" in name or "\x00" in decoded[0]:
            raise nul_refusal(source, name)
        arguments[name] = decoded[0]
    return arguments


def nul_refusal(source: str, where: str) -> LoginRefused:
    return LoginRefused(
        400,
        "The launch from Moodle is not valid (it contains a NUL character). Go back to Moodle "
        "and open the link again.",
        f"{source}: NUL character in {where!r}",
    )


def contains_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds a NUL character in any string, key or value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False
