"""The plugin's tests run against the bounds its image installs."""

from __future__ import annotations

import tomllib

from tools.bootstrap.paths import REPO_ROOT

REQUIREMENTS_IN = REPO_ROOT / "images" / "fake-gpu-plugin" / "requirements.in"


def requirement_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_test_group_has_the_image_requirements():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    test_group = pyproject["dependency-groups"]["test"]
    image_requirements = requirement_lines(REQUIREMENTS_IN.read_text())
    assert image_requirements
    missing = [line for line in image_requirements if line not in test_group]
    assert not missing, (
        f"pyproject.toml's test group lacks {missing} of {REQUIREMENTS_IN}; keep the two the same "
        "(after changing the image's, run `python -m tools.images pin fake-gpu-plugin`)"
    )
