"""This package's own tables in the hub database, used without touching the hub's session.

JupyterHub's handlers share one SQLAlchemy session (`handler.db`); committing or rolling it back
here would commit or drop changes the hub has pending. Code in this package therefore:

- declares its tables on `Base` (one metadata, so one `create_all` creates them all), and
- writes them in `own_transaction(handler.db)`: a transaction on a connection of its own from
  the hub's engine (the tables are created on first use), committed when the block ends and
  rolled back when it raises. Core statements only: an ORM session's unit of work costs a
  launch more than the one INSERT it would flush.
- reads them with `read(handler.db, statement)`: a Core SELECT on the hub's session, which
  commits and rolls back nothing, and puts no object in the hub's identity map (where it would
  go stale: the hub never expires what it loaded). It saves a launch the checkout of a
  connection (and JupyterHub's ping of it) per read. A read sees what the hub has flushed, and
  flushes nothing: a flush would put the hub's pending changes in a transaction that only the
  hub commits, and on SQLite its write lock would make the next `own_transaction` of the same
  request wait for it until the busy timeout.

An in-memory SQLite database (`sqlite://`) has one connection for every session (StaticPool):
there, changes the hub has flushed but not committed share the transaction that `own_transaction`
commits or rolls back (the hub's unflushed changes stay apart). Use a file or a server database.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Result, Select
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Session


class Base(DeclarativeBase):
    """The declarative base of every multilogin table (names start with `multilogin_`)."""


# PostgreSQL's SQLSTATE for "relation already exists".
DUPLICATE_TABLE = "42P07"
# Engines whose tables exist; weak, so a hub (or test) that drops its engine drops the entry.
_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_tables(engine: Engine) -> None:
    """Create the missing multilogin tables, once per engine and process."""
    if engine not in _ready:
        # Another process may create a table between the check and the CREATE: PostgreSQL then
        # refuses the second CREATE, with a unique violation in its catalog (pg_type) or with
        # "relation already exists" (DuplicateTable), whichever step the other creator won. The
        # table exists then; checking again skips it and creates what is still missing (each
        # table can be lost to another creator once, hence one try more than there are tables).
        attempts = len(Base.metadata.tables) + 1
        for attempt in range(attempts):
            try:
                Base.metadata.create_all(engine, checkfirst=True)
                break
            except (IntegrityError, ProgrammingError) as error:
                lost_a_race = isinstance(error, IntegrityError) or (
                    getattr(error.orig, "sqlstate", None) == DUPLICATE_TABLE
                )
                if not lost_a_race or attempt == attempts - 1:
                    raise
        _ready.add(engine)


@contextmanager
def own_transaction(hub_db: Session) -> Iterator[Connection]:
    """A transaction on the engine of `hub_db`, leaving `hub_db` itself untouched."""
    engine = hub_db.get_bind()
    ensure_tables(engine)
    with engine.begin() as connection:
        yield connection


def read(hub_db: Session, statement: Select) -> Result:
    """Run a SELECT of multilogin tables on the hub's session `hub_db` (see above)."""
    ensure_tables(hub_db.get_bind())
    with hub_db.no_autoflush:
        return hub_db.execute(statement)
