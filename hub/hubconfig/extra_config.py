"""`hub.extraConfig`: Python snippets by name, run as z2jh's jupyterhub_config.py runs them.

Each runs after all of the chart's configuration and `hub.config`, in sorted name order, with
`c` (the configuration) and `get_config` (a value of the chart values by its dotted key, e.g.
`get_config("custom.myHost")`) in scope. A snippet that fails stops the hub with its name, line
and error, not a traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from functools import partial
from typing import Any

from traitlets.config import Config

from hubconfig import values


def get_config(chart_values: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """The value at dotted `key` in the chart values, else `default` (z2jh's get_config)."""
    node: Any = chart_values
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def run(c: Config, chart_values: Mapping[str, Any]) -> None:
    """Run every snippet of `hub.extraConfig` on `c`; ValuesError naming the one that fails."""
    for name, source in sorted(chart_values["hub"].get("extraConfig", {}).items()):
        filename = f"hub.extraConfig.{name}"
        scope = {"c": c, "get_config": partial(get_config, chart_values), "__name__": filename}
        try:
            exec(compile(source, filename, "exec"), scope)  # noqa: S102 - the operator's config
        except SyntaxError as error:
            raise values.ValuesError(
                f"{filename}: line {error.lineno}: SyntaxError: {error.msg}"
            ) from None
        except Exception as error:
            raise values.ValuesError(
                f"{filename}: line {_failing_line(error, filename)}: "
                f"{type(error).__name__}: {error}"
            ) from None


def _failing_line(error: Exception, filename: str) -> int | str:
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename == filename
    ]
    return lines[-1] if lines and lines[-1] is not None else "?"
