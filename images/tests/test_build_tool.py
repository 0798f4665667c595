"""After a build, a second one rebuilds nothing within seconds, and the lock matches Docker."""

import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_OP_LIMIT_S = 30


def images_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.images", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
        check=False,
    )


def test_a_second_build_rebuilds_nothing_in_seconds() -> None:
    started = time.monotonic()
    result = images_cli("build")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    outcomes = [line for line in result.stderr.splitlines() if line.startswith("    ")]
    assert outcomes, result.stderr
    assert all(": up to date in " in line for line in outcomes), result.stderr
    assert elapsed < NO_OP_LIMIT_S


def test_the_lock_file_matches_docker() -> None:
    result = images_cli("verify")
    assert result.returncode == 0, result.stderr
    assert "locked images match Docker" in result.stdout
