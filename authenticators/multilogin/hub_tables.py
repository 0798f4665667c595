"""The package's own tables in the hub database, reached through sessions of their own.

JupyterHub's shared session (`handler.db`) may hold changes of the request in progress; a commit
or rollback here must never flush or drop them, so every write goes through `own_session`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import DeclarativeBase, Session

_engines_ready: set[int] = set()


class Base(DeclarativeBase):
    """Every table of this package; created on first use, beside JupyterHub's own."""


@contextmanager
def own_session(hub_db: Session) -> Iterator[Session]:
    """A short-lived session on the hub database's engine, with the package's tables present."""
    engine = hub_db.get_bind()
    _ensure_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _ensure_tables(engine: Engine) -> None:
    if id(engine) not in _engines_ready:
        Base.metadata.create_all(engine, checkfirst=True)
        _engines_ready.add(id(engine))
