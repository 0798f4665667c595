"""Which hub account a proven identity lands in: the rules of the trust model, as pure decisions.

- A linked identity lands in its account, whatever name it claims now.
- Keycloak is the campus directory: an unlinked Keycloak subject joins the account of its
  username, unless another campus identity or a platform's separate account holds that name.
- An unlinked LTI identity joins the account of its claimed username only when the operator
  declared the platform authoritative for that name; otherwise the platform's
  `unlinked_identities` decides: ask the person to link it, give it a separate account, refuse.

Whether the account is an admin account is decided afterwards (LTI never reaches one by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .entitlements import KEYCLOAK
from .errors import LoginRefused
from .identities import (
    LINKED_AS_SEPARATE_ACCOUNT,
    LINKED_BY_AUTHORITATIVE_PLATFORM,
    LINKED_BY_KEYCLOAK,
    Identity,
    Link,
)
from .platform_trust import ASK_TO_LINK, SEPARATE_ACCOUNT, PlatformTrust

_ASK_ADMINS = "If you think this is wrong, ask the hub's administrators."


@dataclass(frozen=True)
class Account:
    """What the hub knows of an account name: whether it exists and which identities it has."""

    name: str
    exists: bool
    links: tuple[Link, ...] = ()

    def is_separate_account(self) -> bool:
        return any(link.how == LINKED_AS_SEPARATE_ACCOUNT for link in self.links)

    def has_other_identity_at(self, identity: Identity) -> bool:
        """Another identity of the same source and platform is linked here already."""
        return any(
            link.identity != identity
            and (link.identity.source, link.identity.issuer, link.identity.client_id)
            == (identity.source, identity.issuer, identity.client_id)
            for link in self.links
        )


@dataclass(frozen=True)
class Land:
    """Sign in to `username`; `new_link` says how to link the identity, when it is not yet."""

    username: str
    new_link: str | None = None


@dataclass(frozen=True)
class AskToLink:
    """Ask the person to prove, with the campus login, which account the identity belongs to."""


def for_keycloak(
    identity: Identity, username: str, link: Link | None, account_of: Callable[[str], Account]
) -> Land:
    if link is not None:
        return Land(link.username)
    account = account_of(username)
    taken = account.is_separate_account() or any(
        other.identity.source == KEYCLOAK for other in account.links
    )
    if taken:
        raise LoginRefused(
            403,
            f"The hub account {username!r} belongs to someone else, so your campus login cannot "
            f"use it. {_ASK_ADMINS}",
            f"Keycloak subject {identity.subject!r} claims {username!r}, which is linked to "
            f"{[other.identity for other in account.links]}",
        )
    return Land(username, LINKED_BY_KEYCLOAK)


def for_lti(
    identity: Identity,
    username: str,
    trust: PlatformTrust,
    link: Link | None,
    account_of: Callable[[str], Account],
) -> Land | AskToLink:
    if link is not None:
        return Land(link.username)
    if trust.may_claim(username):
        account = account_of(username)
        if account.is_separate_account() or account.has_other_identity_at(identity):
            raise LoginRefused(
                403,
                f"The hub account {username!r} is linked to another account of this Moodle "
                f"site, so this launch cannot use it. {_ASK_ADMINS}",
                f"{identity} claims {username!r}, which is linked to "
                f"{[other.identity for other in account.links]}",
            )
        return Land(username, LINKED_BY_AUTHORITATIVE_PLATFORM)
    if trust.unlinked_identities == ASK_TO_LINK:
        return AskToLink()
    if trust.unlinked_identities == SEPARATE_ACCOUNT:
        name = trust.separate_account_name(username)
        if account_of(name).exists:
            raise LoginRefused(
                403,
                f"This Moodle account would get the hub account {name!r}, which already "
                f"exists. {_ASK_ADMINS}",
                f"{identity}: separate account {name!r} exists and is not linked to it",
            )
        return Land(name, LINKED_AS_SEPARATE_ACCOUNT)
    raise LoginRefused(
        403,
        f"Your account at {trust.label} is not linked to a hub account, and this hub does not "
        f"link accounts from there by itself. Sign in with the campus login instead. "
        f"{_ASK_ADMINS}",
        f"{identity} is not linked and {trust.name!r} refuses unlinked identities",
    )
