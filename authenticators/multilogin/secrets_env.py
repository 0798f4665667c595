"""Secrets from the environment (a Kubernetes Secret through `hub.extraEnv`), checked at start.

A secret that cannot be right stops the hub with one line naming the setting and the variable,
never the value: JupyterHub logs any Exception raised while it starts with a traceback
(`JupyterHub.launch_instance_async`), so the refusal is a SystemExit, which ends the process
with its message alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class StartupRefused(SystemExit):
    """Configuration the hub must not start with; the message is the one line it prints."""

    def __init__(self, message: str) -> None:
        super().__init__(f"multilogin: {message}")


def check_secret(value: str, where: str) -> None:
    """StartupRefused when `value` has whitespace at either end or a control character: such a
    secret never matches the other side's (a file's final newline is the usual cause)."""
    if not isinstance(value, str):
        raise StartupRefused(f"{where} is not a string")
    if value != value.strip() or any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise StartupRefused(
            f"{where} has leading or trailing whitespace or a control character (a file's final "
            "newline?); the secret would never match"
        )


def secrets_from(
    names: Mapping[str, str], setting: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """Each key's secret, read from the environment variable `names[key]` names."""
    found = {}
    for key, variable in names.items():
        where = f"{setting}[{key!r}]"
        if not ENV_NAME.fullmatch(variable):
            raise StartupRefused(f"{where}: {variable!r} is not an environment variable name")
        value = environ.get(variable, "")
        if not value:
            raise StartupRefused(
                f"{where}: the environment variable {variable} is not set or empty (give it "
                f"from a Secret: hub.extraEnv.{variable}.valueFrom.secretKeyRef)"
            )
        check_secret(value, f"{where}: the environment variable {variable}")
        found[key] = value
    return found
