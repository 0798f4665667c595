"""JSON-schema validation of configuration held in traitlets."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema


@cache
def _schema(file_name: str) -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(file_name).read_text("utf-8"))


def validate(data: Any, file_name: str, option: str) -> None:
    """Raise ValueError naming the option, where in it the problem is, and what is wrong."""
    try:
        jsonschema.validate(data, _schema(file_name))
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ValueError(f"{option} at {where}: {error.message}") from None
