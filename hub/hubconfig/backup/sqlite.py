"""SQLite hub databases: SQLite's online backup API both ways, so the hub may keep its file open."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import make_url

from hubconfig.backup.errors import BackupError

MAGIC = b"SQLite format 3\x00"
HUB_OBJECTS = {"table", "index"}


def _path(url: str) -> str:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(
            "the hub database is in memory (hub.db.type sqlite-memory); nothing lasts"
        )
    return database


def _read_only(path: str | Path) -> sqlite3.Connection:
    # A URI, so that the file is never created or written; as_uri quotes "?" and "#" in the path.
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def create(url: str, out: BinaryIO) -> None:
    """Copy the database at `url` into `out` as one consistent SQLite file."""
    source_path = _path(url)
    if not Path(source_path).is_file():
        raise BackupError(f"the hub database file {source_path} does not exist")
    with tempfile.TemporaryDirectory(prefix="hub-backup-") as folder:
        copy = Path(folder) / "hub.sqlite"
        with (
            closing(_read_only(source_path)) as source,
            closing(sqlite3.connect(copy)) as target,
        ):
            source.backup(target)
        with copy.open("rb") as file:
            shutil.copyfileobj(file, out)


def check(backup: Path) -> None:
    """BackupError unless `backup` is an intact SQLite file of a hub database."""
    try:
        with closing(_read_only(backup)) as database:
            (verdict,) = database.execute("PRAGMA integrity_check(1)").fetchone()
            objects = database.execute("SELECT type, name FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"the SQLite backup is damaged: {error}") from None
    if verdict != "ok":
        raise BackupError(f"the SQLite backup is damaged: {verdict}")
    if ("table", "alembic_version") not in objects:
        raise BackupError("the SQLite file is not a hub database: it has no alembic_version table")
    # A trigger or view would run or change what the hub reads once restored; a hub database has
    # tables and indexes only.
    foreign = next(((kind, name) for kind, name in objects if kind not in HUB_OBJECTS), None)
    if foreign is not None:
        raise BackupError(
            f"the SQLite file holds more than a hub database's tables: {foreign[0]} "
            f"{foreign[1][:80]!r}"
        )


def restore(url: str, backup: Path) -> None:
    """Replace the content of the database at `url` with that of `backup`."""
    with (
        closing(_read_only(backup)) as source,
        closing(sqlite3.connect(_path(url))) as target,
    ):
        source.backup(target)
