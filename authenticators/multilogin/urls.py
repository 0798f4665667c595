"""URLs the hub hands to browsers and platforms, always with the hub's URL prefix."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import get_browser_protocol, url_path_join


def public_origin(handler: BaseHandler) -> str:
    """`scheme://host` as the browser sees the hub: JupyterHub.public_url when set, else the
    scheme the proxy forwards (a TLS-terminating proxy makes the request itself http) and the
    request's Host header. A forwarded host is not read: unless a trusted proxy sets it, it is
    whatever the client sent."""
    public_url = handler.settings.get("public_url")
    if public_url:
        return f"{public_url.scheme}://{public_url.netloc}"
    return f"{get_browser_protocol(handler.request)}://{handler.request.host}"


def hub_url(handler: BaseHandler, path: str) -> str:
    """Absolute URL of a hub route, e.g. hub_url(handler, "lti13/oauth_callback")."""
    return public_origin(handler) + url_path_join(handler.hub.base_url, path)


def next_from_target_link(target_link_uri: str) -> str | None:
    """The `next` query parameter of an LTI 1.3 target_link_uri, if any."""
    values = parse_qs(urlparse(target_link_uri).query).get("next")
    return values[0] if values else None


def safe_next_url(handler: BaseHandler, candidate: str | None, user: object) -> str:
    """`candidate` when it stays on this hub, else JupyterHub's usual default."""
    if candidate:
        validated = handler._validate_next_url(candidate)
        if validated:
            return validated
    return handler.get_next_url(user)
