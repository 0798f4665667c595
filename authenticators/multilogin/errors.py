"""Refused logins: a clear page (or JSON) for the person, the reason in the log, no user."""

from __future__ import annotations

import json
from typing import Any

from tornado.web import HTTPError


class LoginRefused(HTTPError):
    """A login refused on purpose.

    `message` is shown to the person and says what to do; `reason` goes to the log and names
    the technical cause (a bad signature, an unknown issuer, ...).
    """

    def __init__(self, status_code: int, message: str, reason: str) -> None:
        super().__init__(status_code, "%s", reason)
        self.reason_text = reason
        # JupyterHub's error page shows this instead of the log message.
        self.jupyterhub_message = message


def wants_json(accept_header: str) -> bool:
    """API clients ask for JSON; browsers ask for HTML first."""
    accept = accept_header.lower()
    return "application/json" in accept and "text/html" not in accept


class RefusalPagesMixin:
    """For login handlers: log each refusal with its source, answer JSON to API clients.

    Browsers get JupyterHub's own error page, which shows LoginRefused.jupyterhub_message.
    """

    login_source: str = "unknown"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exception = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exception, HTTPError):
            reason = getattr(exception, "reason_text", None) or exception.log_message or ""
            message = getattr(exception, "jupyterhub_message", None) or reason
            self.log.warning(
                "Login refused (source=%s, status=%s): %s", self.login_source, status_code, reason
            )
        else:
            message = "The login failed because of an error on the hub. Try again later."
        if wants_json(self.request.headers.get("Accept", "")):
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json.dumps({"status": status_code, "message": message}))
            return
        super().write_error(status_code, **kwargs)
