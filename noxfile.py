"""Sessions named after what a person wants to do. `nox -l` lists them; `nox` runs the quick checks.

`nox -t ci` runs everything CI runs (it is the README's test command and what `.ci/run` calls).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import nox

REPO_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO_ROOT))

# The bootstrap is standard library only, so it runs in nox's own interpreter.
from tools.bootstrap import prerequisites  # noqa: E402 - needs the sys.path entry above
from tools.bootstrap.progress import step  # noqa: E402

PYPROJECT = nox.project.load_toml(REPO_ROOT / "pyproject.toml")
# Where the tools, the dev environment and the dev services are imported from: the folders pytest
# puts on sys.path. They are not installed, so that the product wheel holds only the product.
DEV_PATHS = PYPROJECT["tool"]["pytest"]["ini_options"]["pythonpath"]
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True


def install_project(session: nox.Session, *groups: str) -> None:
    """The product in editable mode plus the named dependency groups; the checkout's tools,
    dev environment and dev services on PYTHONPATH for the commands the session runs.

    pip runs only when pyproject.toml or the groups changed since the venv's last install (a
    stamp in the venv, as ./noxw keeps for nox itself): the install is editable, so source
    changes need none, and a warm `./noxw -s dev` is not spent in pip.
    """
    wanted = hashlib.sha256(
        (REPO_ROOT / "pyproject.toml").read_bytes() + repr(groups).encode()
    ).hexdigest()
    stamp = Path(session.virtualenv.location) / ".project-install.sha256"
    if stamp.is_file() and stamp.read_text() == wanted:
        session.log("the project and its groups are installed (pyproject.toml unchanged)")
    else:
        session.install("--upgrade", "pip")
        session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, *groups))
        stamp.write_text(wanted)
    session.env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / path) for path in DEV_PATHS)


def require(session: nox.Session, *names: str) -> None:
    """Check (and on root Debian install) system prerequisites, or stop with what is missing."""
    with step(f"prerequisites: {', '.join(names)}"):
        try:
            prerequisites.ensure(names)
        except prerequisites.MissingPrerequisites as missing:
            session.error(str(missing))


def dockerfiles() -> list[str]:
    return sorted(
        str(path)
        for folder in ("images", "devenv")
        for path in REPO_ROOT.glob(f"{folder}/**/Dockerfile")
    )


@nox.session(python=PYTHON, tags=["ci"])
def lint(session: nox.Session) -> None:
    """Ruff (lint, format check), yamllint, hadolint on Dockerfiles, the CI workflow schema."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("yamllint", "--strict", ".")
    workflows = sorted(str(path) for path in REPO_ROOT.glob(".github/workflows/*.y*ml"))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    files = dockerfiles()
    if files:
        session.run("hadolint", *files)
    else:
        session.log("hadolint: no Dockerfiles in images/ yet")


@nox.session(python=PYTHON, tags=["ci"])
def tests(session: nox.Session) -> None:
    """Unit and integration tests (real JupyterHub, Keycloak and Chromium as host processes,
    PostgreSQL in a container)."""
    require(session, "chromium", "docker", "java", "maven")
    install_project(session, "test")
    session.run("pytest", "-m", "not cluster", *session.posargs)


@nox.session(python=PYTHON)
def dev(session: nox.Session) -> None:
    """Bring the local environment up: cluster with fake GPUs, Keycloak, mock Moodle, the hub."""
    require(session, "docker", "go", "java", "maven")
    install_project(session)
    session.run("python", "-m", "devenv.dev_env", "up")


@nox.session(python=PYTHON, name="cluster-tests", tags=["ci"])
def cluster_tests(session: nox.Session) -> None:
    """Image smoke tests (docker run) and cluster tests on kind; builds what is missing first."""
    require(session, "docker", "go", "java", "maven")
    install_project(session, "test")
    session.run("python", "-m", "tools.images", "build")
    session.run("python", "-m", "tools.images", "verify")
    session.run("pytest", "images/tests")
    session.run("python", "-m", "devenv.cluster", "up")
    session.run("pytest", "-m", "cluster", "devenv/tests/cluster", "helm/tests", *session.posargs)


@nox.session(python=PYTHON, tags=["ci"])
def e2e(session: nox.Session) -> None:
    """The user stories in a real browser, against the environment `dev` brings up."""
    require(session, "docker", "go", "java", "maven", "chromium")
    install_project(session, "e2e")
    session.run("python", "-m", "devenv.dev_env", "up")
    session.run("pytest", "-m", "cluster", "e2e", *session.posargs)


@nox.session(python=PYTHON, tags=["ci"])
def rehearsal(session: nox.Session) -> None:
    """The production rehearsal: the previous release from the registry, upgraded to `-- X.Y.Z`
    (a release made here; default: the working tree, released now), then the user stories
    against it over HTTPS on PostgreSQL (devenv/README.md)."""
    require(session, "docker", "go", "java", "maven", "chromium")
    install_project(session, "e2e")
    version = session.posargs[:1]
    session.run("python", "-m", "devenv.rehearsal", "up", *version)
    session.run(
        "pytest", "-m", "cluster", "--environment=rehearsal", "e2e",
        *session.posargs[1:],
    )  # fmt: skip


@nox.session(python=PYTHON)
def cluster(session: nox.Session) -> None:
    """Create the kind cluster with fake GPUs (built offline when needed); idempotent."""
    install_project(session)
    session.run("python", "-m", "devenv.cluster", "up")


@nox.session(python=PYTHON)
def down(session: nox.Session) -> None:
    """Tear the local environment down (the kind cluster); caches are kept."""
    install_project(session)
    session.run("python", "-m", "devenv.cluster", "down")


@nox.session(python=PYTHON)
def release(session: nox.Session) -> None:
    """Release `-- X.Y.Z [--registry HOST[/PATH]] [--images all]`: images and chart pushed to a
    registry (default: the local one), the chart pinning the images by digest (tools/README.md)."""
    require(session, "docker", "go")
    install_project(session)
    session.run("python", "-m", "tools.release", *session.posargs)


@nox.session(python=PYTHON)
def promote(session: nox.Session) -> None:
    """Promote `-- X.Y.Z`: copy a release made here with `--published-as`, by digest, from the
    registry it was pushed to (staging) to the one its chart names (docs/releases.md)."""
    require(session, "go")
    install_project(session)
    session.run("python", "-m", "tools.release.promote", *session.posargs)


@nox.session(python=PYTHON)
def images(session: nox.Session) -> None:
    """Build the hub, lab and dev-service images that changed (`-- NAME ...` for some only)."""
    require(session, "docker")
    install_project(session)
    session.run("python", "-m", "tools.images", "build", *session.posargs)
