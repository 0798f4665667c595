"""The PostgreSQL image: initialised from the environment on first start, password logins only."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from containers import Container

pytestmark = pytest.mark.image("postgresql")

PASSWORD = "it's a 'quoted' secret\\"


def psql(
    database: Container, password: str, sql: str, user: str = "jupyterhub", db: str = "hub"
) -> subprocess.CompletedProcess[str]:
    """psql over TCP (not the socket), so the password is what lets it in."""
    return subprocess.run(
        [
            "docker",
            "exec",
            "-e",
            f"PGPASSWORD={password}",
            database.id,
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            user,
            "-d",
            db,
            "-AtXc",
            sql,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def wait_healthy(database: Container, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while database.health() != "healthy":
        if time.monotonic() > deadline:
            pytest.fail(f"not healthy after {timeout:.0f} s; logs:\n{database.logs()[-3000:]}")
        time.sleep(1)


def exit_of_first_start(
    image: str, *env: str, volume: str | None = None
) -> subprocess.CompletedProcess[str]:
    args = [f"--env={item}" for item in env]
    if volume:
        args.append(f"--volume={volume}:/var/lib/postgresql/data")
    return subprocess.run(
        ["docker", "run", "--rm", *args, image], capture_output=True, text=True, timeout=120
    )


def test_first_start_creates_the_database_and_checks_passwords(
    image: str, volume: str, tmp_path: Path, start
) -> None:
    secret = tmp_path / "password"
    # As a Kubernetes Secret mounted as a file may hold it: with a trailing newline.
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o644)
    database = start(
        image,
        env={
            "POSTGRES_USER": "jupyterhub",
            "POSTGRES_DB": "hub",
            "POSTGRES_PASSWORD_FILE": "/run/secrets/password",
        },
        volumes=(f"{volume}:/var/lib/postgresql/data", f"{secret}:/run/secrets/password:ro"),
        ports=(5432,),
    )
    wait_healthy(database)
    login = psql(database, PASSWORD, "SELECT current_user || ' ' || current_database()")
    assert login.stdout.strip() == "jupyterhub hub", login.stderr
    # The owner of its database, not a superuser.
    assert (
        psql(
            database, PASSWORD, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).stdout.strip()
        == "f"
    )
    wrong = psql(database, "not-the-password", "SELECT 1")
    assert wrong.returncode != 0
    assert 'password authentication failed for user "jupyterhub"' in wrong.stderr
    assert (
        subprocess.run(
            ["docker", "exec", database.id, "id", "-u"], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "999"
    )


def test_the_data_outlives_the_container(image: str, volume: str, start) -> None:
    env = {"POSTGRES_USER": "jupyterhub", "POSTGRES_DB": "hub", "POSTGRES_PASSWORD": PASSWORD}
    first = start(image, env=env, volumes=(f"{volume}:/var/lib/postgresql/data",))
    wait_healthy(first)
    assert (
        psql(
            first, PASSWORD, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('here')"
        ).returncode
        == 0
    )
    subprocess.run(["docker", "stop", first.id], capture_output=True, check=True)
    # docker stop sends the image's STOPSIGNAL, SIGINT: PostgreSQL's fast shutdown.
    assert "received fast shutdown request" in first.logs()
    # A later start with other settings keeps the database as it is.
    second = start(
        image,
        "-c",
        "max_connections=50",
        env={"POSTGRES_PASSWORD": "ignored now"},
        volumes=(f"{volume}:/var/lib/postgresql/data",),
    )
    wait_healthy(second)
    assert psql(second, PASSWORD, "SELECT note FROM kept").stdout.strip() == "here"
    assert "created database" not in second.logs()
    # Arguments go to postgres.
    assert psql(second, PASSWORD, "SHOW max_connections").stdout.strip() == "50"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ((), "no password: set POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD"),
        (("POSTGRES_PASSWORD=a", "POSTGRES_PASSWORD_FILE=/etc/hostname"), "not both"),
        (
            ("POSTGRES_PASSWORD=a", "POSTGRES_DB=hub; DROP DATABASE postgres"),
            "POSTGRES_DB must match",
        ),
        (("POSTGRES_PASSWORD=a", 'POSTGRES_USER=Robert"'), "POSTGRES_USER must match"),
        (("POSTGRES_PASSWORD=two\nlines",), "the password must be one line"),
    ],
)
def test_bad_settings_stop_the_first_start_with_a_reason(
    image: str, env: tuple[str, ...], message: str
) -> None:
    result = exit_of_first_start(image, *env)
    assert result.returncode == 64, result.stderr
    assert message in result.stderr


def test_a_failed_first_start_leaves_no_half_made_database(image: str, volume: str, start) -> None:
    # template1 exists already: CREATE DATABASE fails after initdb has run.
    failed = exit_of_first_start(
        image,
        "POSTGRES_USER=jupyterhub",
        "POSTGRES_DB=template1",
        f"POSTGRES_PASSWORD={PASSWORD}",
        volume=volume,
    )
    assert failed.returncode == 64
    assert "could not create the role jupyterhub and the database template1" in failed.stderr
    assert "quoted" not in failed.stderr
    env = {"POSTGRES_USER": "jupyterhub", "POSTGRES_DB": "hub", "POSTGRES_PASSWORD": PASSWORD}
    database = start(image, env=env, volumes=(f"{volume}:/var/lib/postgresql/data",))
    wait_healthy(database)
    assert psql(database, PASSWORD, "SELECT current_database()").stdout.strip() == "hub"
