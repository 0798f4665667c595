"""The plugin image installs what pyproject.toml says the plugin needs."""

from __future__ import annotations

import tomllib

from devenv.paths import REPO_ROOT

REQUIREMENTS_IN = REPO_ROOT / "images" / "fake-gpu-plugin" / "requirements.in"


def requirement_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_image_requirements_match_the_device_plugin_extra():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["device-plugin"]
    assert requirement_lines(REQUIREMENTS_IN.read_text()) == extra, (
        f"{REQUIREMENTS_IN} must list the `device-plugin` extra of pyproject.toml; after changing "
        "it, run `PYTHONPATH=dev python -m devenv.images pin fake-gpu-plugin`"
    )
