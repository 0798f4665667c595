"""The error a refused spawn raises: an HTTP status and a message JupyterHub shows as is."""

from __future__ import annotations

from tornado import web


class SpawnRefused(web.HTTPError):
    """A spawn request the hub will not run; no pod is created.

    JupyterHub passes HTTPErrors raised before the spawn through to the REST API response and the
    spawn page, and shows `jupyterhub_message` on its error page.
    """

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, "%s", message, reason=None)
        self.jupyterhub_message = message

    @property
    def message(self) -> str:
        return self.jupyterhub_message

    def __str__(self) -> str:
        return self.jupyterhub_message


def bad_request(message: str) -> SpawnRefused:
    """The request itself is malformed (unknown option, wrong type, unknown profile)."""
    return SpawnRefused(400, message)


def forbidden(message: str) -> SpawnRefused:
    """The request is well formed but this user may not have it (profile, GPUs, quota)."""
    return SpawnRefused(403, message)
