"""Pick the engine of a hub database URL and run its backup or restore, with the shared checks."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hubconfig.backup import postgresql, sqlite
from hubconfig.backup.errors import BackupError

ENGINES = {"sqlite": sqlite, "postgresql": postgresql}
# How each engine's backup file starts, so that a file of the other engine is named as such.
KINDS = {sqlite.MAGIC: "a SQLite backup", postgresql.MAGIC: "a PostgreSQL (pg_dump) backup"}


def _engine_of(url: str) -> ModuleType:
    backend = make_url(url).get_backend_name()
    if backend not in ENGINES:
        raise BackupError(f"the hub database is {backend}; backups support SQLite and PostgreSQL")
    return ENGINES[backend]


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    except SQLAlchemyError as error:
        raise BackupError(f"cannot read the hub database: {type(error).__name__}") from None
    finally:
        engine.dispose()


def _check_kind(backup: Path, engine: ModuleType) -> None:
    with backup.open("rb") as file:
        head = file.read(max(len(magic) for magic in KINDS))
    if head.startswith(engine.MAGIC):
        return
    found = next((kind for magic, kind in KINDS.items() if head.startswith(magic)), None)
    wanted = KINDS[engine.MAGIC]
    if found:
        raise BackupError(f"the file is {found}, but the hub database needs {wanted}")
    raise BackupError(f"the file is not a hub database backup: it does not start as {wanted}")


def create(url: str, out: BinaryIO) -> None:
    """Write a backup of the database at `url` to `out`."""
    _engine_of(url).create(url, out)


def restore(url: str, backup: BinaryIO, force: bool = False) -> None:
    """Restore the database at `url` from `backup`; refused into a database with tables unless
    `force`, which replaces what the backup holds."""
    engine = _engine_of(url)
    with tempfile.TemporaryDirectory(prefix="hub-restore-") as folder:
        copy = Path(folder) / "backup"
        with copy.open("wb") as file:
            while chunk := backup.read(1 << 20):
                file.write(chunk)
        _check_kind(copy, engine)
        engine.check(copy)
        tables = _tables(url)
        if tables and not force:
            shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
            raise BackupError(
                f"the hub database already has {len(tables)} tables ({shown}); restore into an "
                "empty database, or pass --force to replace them with the backup's"
            )
        engine.restore(url, copy)
