"""The GitHub workflows run the project's own commands; here they run as the workflow runs them.

The images workflow once aborted its smoke tests before collecting one: its venv held only what
its install step installs, and a pytest plugin the repo always loaded needed more. This runs that
step's install command in a fresh venv and then the smoke-test step's pytest command in it.
"""

from __future__ import annotations

import shlex
import subprocess
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.bootstrap.paths import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
IMAGES_WORKFLOW = WORKFLOWS / "images.yaml"


def steps(workflow: Path) -> list[dict[str, Any]]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return [step for job in jobs.values() for step in job["steps"]]


def step_named(workflow: Path, prefix: str) -> dict[str, Any]:
    found = [step for step in steps(workflow) if step.get("name", "").startswith(prefix)]
    assert len(found) == 1, f"{workflow.name}: one step named {prefix!r}..., found {len(found)}"
    return found[0]


def python_commands(script: str) -> list[list[str]]:
    """The `python ...` command lines of a step's script, split as the shell would."""
    return [shlex.split(line) for line in script.splitlines() if line.strip().startswith("python ")]


@pytest.mark.integration
def test_the_smoke_tests_collect_in_a_venv_with_only_what_the_workflow_installs(
    tmp_path: Path,
) -> None:
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = str(environment / "bin" / "python")
    install = python_commands(step_named(IMAGES_WORKFLOW, "Install the smoke tests")["run"])
    assert install, "the install step installs with `python -m pip`"
    for command in install:
        subprocess.run([python, *command[1:]], check=True, capture_output=True, timeout=300)
    # The smoke step's own pytest invocation (`--images=default` on branches), collection only:
    # running the tests needs the built images, which the images session has and this one has not.
    collected = subprocess.run(
        [python, "-m", "pytest", "images/tests", "--images=default", "--collect-only", "-q",
         "-p", "no:cacheprovider"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert " tests collected" in collected.stdout, collected.stdout


RELEASE_WORKFLOW = WORKFLOWS / "release.yaml"


def test_a_tag_releases_rehearses_and_only_then_promotes_with_the_sessions() -> None:
    sessions = []
    for step in steps(RELEASE_WORKFLOW):
        words = shlex.split(step.get("run", ""))
        if words[:2] == ["./noxw", "-s"]:
            assert "if" not in step, f"{step['name']}: runs only after every step before passed"
            sessions.append(words[2])
    assert sessions == ["release", "rehearsal", "promote"]
    noxfile = (REPO_ROOT / "noxfile.py").read_text()
    for session in sessions:
        assert f"def {session}(session: nox.Session)" in noxfile
