"""PostgreSQL hub databases: pg_dump's custom-format archive, restored with pg_restore.

The password never goes on a command line (other processes could read it there): the tools get
it in PGPASSWORD, and the connection URI they get has none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import URL, make_url

from hubconfig.backup.errors import BackupError

MAGIC = b"PGDMP"
# Neither owner nor grants travel: the restoring role owns what it restores (a managed database
# often names its roles differently from the one the backup came from).
PORTABLE = ("--no-owner", "--no-privileges")
# pg_restore --list names each entry "<id>; <table oid> <oid> <type> <schema> <name> <owner>".
ENTRY = re.compile(r"\d+; \d+ \d+ (?P<rest>.*)")
ALEMBIC_TABLE = re.compile(r"TABLE \S+ alembic_version ")
# What pg_dump writes for a hub database: tables, their rows, sequences, defaults, constraints,
# indexes, and its schema when the hub's role owns that. Anything else (a function, trigger,
# view, rule, extension) would run code or change what the hub reads once restored, so an
# archive holding it is refused. The list reads the entries' labels, which a crafted archive can
# falsify; the seal (hubconfig.backup.seal) is what keeps such an archive out.
HUB_ENTRY = re.compile(
    r"(TABLE DATA|TABLE|SEQUENCE OWNED BY|SEQUENCE SET|SEQUENCE|DEFAULT|FK CONSTRAINT|CONSTRAINT"
    r"|INDEX|SCHEMA) "
)


def _connection(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URI without password, and the environment carrying it."""
    parsed = make_url(url)
    # URL.set keeps a password it is given None for; a new URL has none.
    uri = URL.create(
        "postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database,
        parsed.query,
    ).render_as_string()  # fmt: skip
    environ = dict(os.environ)
    if parsed.password is not None:
        environ["PGPASSWORD"] = str(parsed.password)
    return uri, environ


def _run(tool: str, *args: str, environ: dict[str, str] | None = None) -> bytes:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (the hub image has it: postgresql-client)")
    result = subprocess.run([tool, *args], env=environ, capture_output=True, check=False)
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise BackupError(f"{tool} failed: {lines[0]}")
    return result.stdout


def create(url: str, out: BinaryIO) -> None:
    """Write a pg_dump archive of the database at `url` to `out`."""
    uri, environ = _connection(url)
    out.write(_run("pg_dump", "--format=custom", *PORTABLE, f"--dbname={uri}", environ=environ))


def check(backup: Path) -> None:
    """BackupError unless `backup` is a readable pg_dump archive of a hub database."""
    listing = _run("pg_restore", "--list", str(backup)).decode(errors="replace")
    entries = [found["rest"] for found in map(ENTRY.fullmatch, listing.splitlines()) if found]
    if not any(ALEMBIC_TABLE.match(entry) for entry in entries):
        raise BackupError("the pg_dump archive is not of a hub database: no alembic_version table")
    foreign = next((entry for entry in entries if not HUB_ENTRY.match(entry)), None)
    if foreign is not None:
        raise BackupError(
            f"the pg_dump archive holds more than a hub database's tables: {foreign[:80]!r}"
        )


def restore(url: str, backup: Path) -> None:
    """Restore `backup` into the database at `url` in one transaction, replacing what it holds."""
    uri, environ = _connection(url)
    _run(
        "pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
        *PORTABLE, f"--dbname={uri}", str(backup), environ=environ,
    )  # fmt: skip
