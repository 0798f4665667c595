"""The metric names a Grafana dashboard's PromQL queries read, by the exporter that serves them.

Tests hold the dashboard in docs/monitoring/grafana-dashboard.json to what the hub and the GPU
device plugin really export; this module only reads queries, it knows no metric itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "monitoring" / "grafana-dashboard.json"

# Which exporter serves a metric, by its name's prefix (JupyterHub's default metrics prefix,
# NVIDIA dcgm-exporter's field names).
SOURCES = {"hub": "jupyterhub_", "gpu": "DCGM_"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
# Label lists: `by (le)`, `without (pod)`, `on (pod)`, `group_left (gpu)`.
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NUMBER = re.compile(r"(?<![\w:])(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][+-]?\d+)?)([smhdwy]|ms)*")
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan"}
)


class UncheckableQuery(ValueError):
    """A query whose metric names cannot be read off its text (a `__name__` matcher)."""


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: every identifier that is not a function
    (followed by `(`), a keyword, a label, a string, a number or a duration."""
    if "__name__" in expr:
        raise UncheckableQuery(f"{expr!r} selects metrics by __name__; name them instead")
    text = _STRING.sub(" ", expr)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        following = text[match.end() :].lstrip()
        if match.group() in _KEYWORDS or following.startswith("("):
            continue
        names.add(match.group())
    return names


def expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL expression) of every query target, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        for nested in [panel, *panel.get("panels", [])]:
            for target in nested.get("targets", []):
                if target.get("expr"):
                    yield nested.get("title", ""), target["expr"]


def names_by_source(dashboard: dict[str, Any]) -> dict[str, set[str]]:
    """The dashboard's metric names by exporter (a key of SOURCES); a name no exporter's prefix
    matches is a ValueError, so that no query escapes the checks."""
    found: dict[str, set[str]] = {source: set() for source in SOURCES}
    for title, expr in expressions(dashboard):
        for name in metric_names(expr):
            source = next((s for s, prefix in SOURCES.items() if name.startswith(prefix)), None)
            if source is None:
                raise ValueError(f"panel {title!r}: {name} is a metric of no known exporter")
            found[source].add(name)
    return found


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    return json.loads(path.read_text())
