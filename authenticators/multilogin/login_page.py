"""The /hub/login page body: a button per interactive source, a line for LTI users."""

from __future__ import annotations

from html import escape

from jupyterhub.utils import url_path_join

from .keycloak import LOGIN_PATH


def _inert(text: str) -> str:
    # JupyterHub renders this HTML as a Jinja template; configured text must not become one.
    return escape(text).replace("{", "&#123;").replace("}", "&#125;")


def login_page_html(
    hub_base_url: str, keycloak_service: str | None, lti_enabled: bool, lti_text: str
) -> str:
    """HTML (a Jinja template: `next` comes from JupyterHub's login handler)."""
    parts = ['<div class="service-login multilogin-login">']
    if keycloak_service:
        href = url_path_join(hub_base_url, LOGIN_PATH)
        parts.append(
            f'<a role="button" id="multilogin-keycloak" class="btn btn-jupyter btn-lg" '
            f'href="{href}?next={{{{ next }}}}">Sign in with {_inert(keycloak_service)}</a>'
        )
    if lti_enabled:
        parts.append(f'<p id="multilogin-lti" class="multilogin-lti">{_inert(lti_text)}</p>')
    parts.append("</div>")
    return "\n".join(parts)
