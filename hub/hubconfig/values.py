"""Load the chart values the hub pod mounts and validate them against the chart's schema.

`values.schema.json` in this package is a link to `helm/jupyterhub-k8s/values.schema.json`, so the
chart and the hub check values against one schema (wheels carry the file itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

VALUES_PATH_ENV = "JUPYTERHUB_K8S_VALUES"


class ValuesError(ValueError):
    """The values file is missing, unreadable or does not match the chart's schema."""


@cache
def schema() -> dict[str, Any]:
    """The chart's values schema."""
    return json.loads(resources.files("hubconfig").joinpath("values.schema.json").read_text())


def describe_errors(values: Any) -> list[str]:
    """One readable line per schema violation: where in the values, and what is wrong there."""
    validator = jsonschema.Draft7Validator(schema())
    errors = sorted(validator.iter_errors(values), key=lambda error: list(error.absolute_path))
    return [f"{location(error.absolute_path)}: {error.message}" for error in errors]


def validate(values: Any, source: str = "values") -> dict[str, Any]:
    """The values if they match the schema, else ValuesError listing every problem."""
    problems = describe_errors(values)
    if problems:
        listing = "\n  ".join(problems)
        raise ValuesError(
            f"{source} do not match the chart's values.schema.json:\n  {listing}\n"
            "Fix these keys in your values file (helm/jupyterhub-k8s/values.yaml documents each)."
        )
    return values


def load(path: Path) -> dict[str, Any]:
    """Read and validate a values file (YAML or JSON)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ValuesError(f"cannot read the chart values at {path}: {error.strerror}") from error
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValuesError(f"{path} is not valid YAML: {error}") from error
    return validate(values, source=str(path))


def location(path: Iterable[str | int]) -> str:
    """Where a value is in the values, as problems name it: `singleuser.profileList[2].image`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"
