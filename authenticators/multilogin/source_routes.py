"""How a handler reaches the login source it serves: its route hands the source over.

MultiLoginAuthenticator.get_handlers is the one place that pairs routes with sources: a route is
`(path, handler class, {"source": <the source's authenticator>})` (the launch endpoint, which
serves both LTI versions, gets `{"lti11": ..., "lti13": ...}`), and tornado passes that dict to
the handler's `initialize`. JupyterHub's own handler machinery (the current user and its
refresh, `login_user`) keeps reading `self.authenticator`, which is MultiLoginAuthenticator.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.auth import Authenticator
from jupyterhub.handlers import BaseHandler

# What Authenticator.get_handlers returns: tornado's (path, handler) or (path, handler, kwargs).
Route = tuple[str, type[BaseHandler]] | tuple[str, type[BaseHandler], dict[str, Any]]


class ServesSource:
    """Mixin for a handler serving one login source, which its route passes in: `self.source`."""

    source: Authenticator

    def initialize(self, source: Authenticator) -> None:
        self.source = source


class UpstreamSourcePage(ServesSource):
    """Mixin for an upstream page that reads its settings from `self.authenticator`
    (oauthenticator's redirect to the identity provider, ltiauthenticator's tool configuration):
    here `self.authenticator` is the page's source.

    Such a page needs no signed-in user, and must not look one up: JupyterHub would refresh
    that user's login through `self.authenticator`, and only MultiLoginAuthenticator may do that.
    """

    _accept_cookie_auth = False

    @property
    def authenticator(self) -> Authenticator:
        return self.source


def source_route(path: str, handler: type[BaseHandler], **sources: Authenticator | None) -> Route:
    """`sources`: the arguments of the handler's `initialize`."""
    return (path, handler, sources)
