"""LTI 1.3 launches that arrive inside another site's frame (Moodle's "Embed" launch container).

A hub framed by Moodle is a third-party site there: browsers that block third-party cookies drop
the state and nonce cookies the launch needs, and JupyterHub's own pages refuse to be framed by
another site (`frame-ancestors 'self'`), so the launch would end on the browser's blank "refused
to connect" frame or, with cookies half kept, start over and over. Instead the login initiation
answers a framed request (`Sec-Fetch-Dest: iframe`) with a page that the platform may frame and
that says what to do, with a button that posts the same initiation to the hub in a new window,
where the launch runs first-party.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from jupyterhub.handlers import BaseHandler

FRAME_DESTINATIONS = frozenset({"iframe", "frame"})


def in_a_frame(handler: BaseHandler) -> bool:
    """Whether the browser says it loads this response into a frame (Fetch Metadata)."""
    return handler.request.headers.get("Sec-Fetch-Dest", "").lower() in FRAME_DESTINATIONS


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@cache
def _page_source() -> str:
    return resources.files(__package__).joinpath("framed_launch.html").read_text("utf-8")


async def answer_framed_launch(
    handler: BaseHandler,
    *,
    platform_url: str,
    platform_name: str,
    tool_name: str,
    form_action: str,
    fields: dict[str, str],
) -> None:
    """The page a framed login initiation gets; only `platform_url`'s origin may frame it."""
    handler.set_header(
        "Content-Security-Policy", f"frame-ancestors 'self' {origin_of(platform_url)}"
    )
    handler.set_header("Cache-Control", "no-store")
    template = handler.settings["jinja2_env"].from_string(_page_source())
    handler.finish(
        await template.render_async(
            **handler.template_namespace,
            platform_name=platform_name,
            tool_name=tool_name,
            form_action=form_action,
            fields=sorted(fields.items()),
        )
    )
