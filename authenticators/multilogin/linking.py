"""Pages for linked sign-ins: /hub/link-account (link a Moodle account by signing in with the
campus login) and /hub/linked-identities (a person's links; admins see anyone's and remove them).

Linking is the proof that a platform identity is this person: the browser that made the launch
holds the pending link, the person signs in with the campus login afresh (Keycloak asks for the
password even when a campus session is open, so a stale session on a shared computer proves
nothing), then confirms on a page that names both accounts.
"""

from __future__ import annotations

import time
from functools import cache
from importlib import resources
from typing import Any

from jupyterhub.handlers import BaseHandler
from tornado import web
from tornado.httputil import url_concat

from . import pending_links
from .auth_state import KEYCLOAK_AUTHENTICATED_AT, LOGIN_SOURCE
from .entitlements import KEYCLOAK, LTI11, LTI13
from .errors import LoginRefused, RefusalPagesMixin
from .identities import LINKED_BY_CONFIRMATION, Identity, Link
from .keycloak import LOGIN_PATH, REAUTHENTICATE_ARGUMENT
from .urls import hub_url

LINK_PATH = "link-account"
IDENTITIES_PATH = "linked-identities"

_SOURCE_LABELS = {KEYCLOAK: "Campus login", LTI11: "Moodle (LTI 1.1)", LTI13: "Moodle (LTI 1.3)"}
_IDENTITY_FIELDS = ("source", "issuer", "client_id", "subject")


@cache
def _page_source() -> str:
    return resources.files(__package__).joinpath("account_pages.html").read_text("utf-8")


async def _render(handler: BaseHandler, **page: Any) -> None:
    template = handler.settings["jinja2_env"].from_string(_page_source())
    namespace = {**handler.template_namespace, "links": None, **page}
    handler.finish(await template.render_async(**namespace))


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def _row(link: Link) -> dict[str, Any]:
    identity = link.identity
    site = identity.issuer + (f" (client {identity.client_id})" if identity.client_id else "")
    return {
        "source": _SOURCE_LABELS.get(identity.source, identity.source),
        "site": site,
        "subject": identity.subject,
        "linked": _when(link.linked_at),
        "last_login": _when(link.last_login_at),
        "fields": [(name, getattr(identity, name)) for name in _IDENTITY_FIELDS],
    }


class LinkAccountHandler(RefusalPagesMixin, BaseHandler):
    """/hub/link-account: the page a launch from an unlinked Moodle account is sent to."""

    login_source = "link"

    def _pending(self) -> pending_links.PendingLink:
        pending = pending_links.recall(self)
        if pending is None:
            raise LoginRefused(
                400,
                "There is no Moodle account waiting to be linked in this browser, or it waited "
                "more than 10 minutes. Open the link in your Moodle course again.",
                "link-account without a pending link",
            )
        return pending

    async def _campus_user_after(self, pending: pending_links.PendingLink) -> Any:
        """The user signed in with the campus login after the launch, or None."""
        user = self.current_user
        if user is None:
            return None
        auth_state = await user.get_auth_state() or {}
        signed_in_at = auth_state.get(KEYCLOAK_AUTHENTICATED_AT) or 0
        if auth_state.get(LOGIN_SOURCE) != KEYCLOAK or signed_in_at < pending.created_at:
            return None
        if user.admin:
            raise LoginRefused(
                403,
                "Administrator accounts sign in with the campus login only; a Moodle account "
                "cannot be linked to one.",
                f"link of {pending.identity} to admin account {user.name!r} refused",
            )
        return user

    async def get(self) -> None:
        pending = self._pending()
        user = await self._campus_user_after(pending)
        here = hub_url(self, LINK_PATH)
        if user is None:
            sign_in = url_concat(
                hub_url(self, LOGIN_PATH), {"next": here, REAUTHENTICATE_ARGUMENT: "1"}
            )
            await _render(
                self,
                page_id="link-start",
                heading="Link your Moodle account to your campus account",
                paragraphs=[
                    f"You came from {pending.platform_label} as {pending.claimed_username!r}. "
                    "This hub does not know yet which campus account that is.",
                    "Sign in once with the campus login to link the two. After that, the "
                    "link in Moodle opens your campus account directly.",
                ],
                continue_href=sign_in,
                continue_text="Sign in with the campus login to link",
            )
            return
        await _render(
            self,
            page_id="link-confirm",
            heading="Link your Moodle account",
            paragraphs=[
                f"Link the account {pending.claimed_username!r} of {pending.platform_label} to "
                f"the campus account {user.name!r}?",
                "Only do this if both are yours: whoever can sign in to that Moodle account "
                "will then reach this hub account.",
            ],
            form_action=here,
            button="Link accounts",
        )

    async def post(self) -> None:
        pending = self._pending()
        user = await self._campus_user_after(pending)
        if user is None:
            raise LoginRefused(
                403,
                "Sign in with the campus login first: open the link in Moodle again.",
                "link confirmation without a fresh campus login",
            )
        store = self.authenticator.identities
        if not store.link(self.db, pending.identity, user.name, LINKED_BY_CONFIRMATION):
            raise LoginRefused(
                409,
                "This Moodle account is linked to a hub account already. Open the link in "
                "Moodle again.",
                f"{pending.identity} is linked already",
            )
        pending_links.forget(self)
        self.log.info("Linked %s to %s after a campus login", pending.identity, user.name)
        await _render(
            self,
            page_id="link-done",
            heading="Accounts linked",
            paragraphs=[
                f"From now on, the link in Moodle opens the hub account {user.name!r}.",
            ],
            continue_href=self.get_next_url(user),
            continue_text="Continue",
        )


class LinkedIdentitiesHandler(RefusalPagesMixin, BaseHandler):
    """/hub/linked-identities[?user=NAME]: the sign-ins linked to an account.

    Accepts API tokens too (scripts, the e2e suite); what a token may do is its scopes', so
    managing other people's links needs `admin:users`, not merely an admin's token.
    """

    login_source = "linked-identities"
    _accept_token_auth = True

    @property
    def _may_manage_links(self) -> bool:
        return "admin:users" in self.expanded_scopes

    def _account_name(self, user: Any, name: str | None) -> str:
        if name and name != user.name and not self._may_manage_links:
            raise LoginRefused(
                403,
                "Only administrators can see other people's linked sign-ins.",
                f"{user.name!r} asked for the links of {name!r}",
            )
        return name or user.name

    @web.authenticated
    async def get(self) -> None:
        user = self.current_user
        name = self._account_name(user, self.get_query_argument("user", None))
        links = self.authenticator.identities.links_of(self.db, name)
        await _render(
            self,
            page_id="linked-identities",
            heading=f"Sign-ins linked to {name}",
            paragraphs=[
                "Each of these reaches this hub account. A sign-in that is not yours should be "
                "removed: ask the hub's administrators.",
            ],
            links=[_row(link) for link in links],
            can_remove=self._may_manage_links,
            form_action=url_concat(hub_url(self, IDENTITIES_PATH), {"user": name}),
        )

    @web.authenticated
    async def post(self) -> None:
        user = self.current_user
        if not self._may_manage_links:
            raise LoginRefused(
                403,
                "Only administrators can remove linked sign-ins.",
                f"{user.name!r} tried to remove a link",
            )
        name = self._account_name(user, self.get_query_argument("user", None))
        fields = {field: self.get_body_argument(field, "") for field in _IDENTITY_FIELDS}
        identity = Identity(**fields)
        removed = self.authenticator.identities.unlink(self.db, identity, name)
        if not removed:
            raise LoginRefused(404, "That sign-in is not linked (any more).", f"no {identity}")
        self.log.info("Admin %s removed the link of %s to %s", user.name, identity, name)
        self.redirect(url_concat(hub_url(self, IDENTITIES_PATH), {"user": name}))
