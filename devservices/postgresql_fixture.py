"""pytest fixture `postgresql_url`: a fresh PostgreSQL container from this project's image.

The image (images/postgresql) is built now if it is not; the container is published on a loopback
port and removed after the test module. Test modules that need it import it, as
`from postgresql_fixture import postgresql_url`.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator

import pytest

from tools import docker
from tools.images import build, spec

USER = "jupyterhub"


@pytest.fixture(scope="module")
def postgresql_url() -> Iterator[str]:
    """The SQLAlchemy URL (password included) of user and database `jupyterhub` there."""
    image = build.build(spec.load(), ["postgresql"])["postgresql"].reference
    password = secrets.token_urlsafe(16)
    container = docker.docker(
        "run", "-d", "-p", "127.0.0.1::5432", "-e", f"POSTGRES_USER={USER}",
        "-e", f"POSTGRES_PASSWORD={password}", image,
    ).strip()  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while (
            docker.docker("inspect", "--format", "{{.State.Health.Status}}", container).strip()
            != "healthy"
        ):
            if time.monotonic() > deadline:
                pytest.fail(
                    f"PostgreSQL did not become healthy:\n{docker.docker('logs', container)}"
                )
            time.sleep(1)
        port = docker.docker("port", container, "5432").split()[0].rsplit(":", 1)[1]
        yield f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{port}/{USER}"
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
