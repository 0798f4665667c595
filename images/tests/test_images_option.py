"""`--images` picks smoke tests by image name; a name images.toml does not know stops the run."""

import subprocess
import sys
from pathlib import Path

import pytest

from tools.images import spec

TESTS_DIR = Path(__file__).resolve().parent


def collect(images_option: str) -> subprocess.CompletedProcess[str]:
    """Collect (not run) this folder's tests as `pytest --images=...` would."""
    command = [sys.executable, "-m", "pytest", str(TESTS_DIR), f"--images={images_option}"]
    return subprocess.run(
        [*command, "--collect-only", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=TESTS_DIR,
        timeout=120,
        check=False,
    )


def test_a_misspelt_image_name_is_a_usage_error_that_names_it_and_the_known_ones() -> None:
    result = collect("hub,lab-bsae")
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "'lab-bsae'" in output
    assert all(name in output for name in spec.load())
    assert "'hub'" not in output, "a known name was reported as unknown"


def test_a_known_image_name_selects_its_tests_only() -> None:
    result = collect("hub")
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert any("test_hub.py::" in line for line in collected), collected
    assert not any("test_labs.py::" in line for line in collected), collected
