"""The error every bad setting raises: one line naming the file and key at fault."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration the plugin cannot run with; the message names the key and what is allowed."""
