"""Replay protection that holds across hub restarts and several hub processes.

Every accepted nonce (LTI 1.1 `oauth_nonce`, LTI 1.3 id_token `nonce`) is inserted into a table
of the hub database with a unique key and an expiry. The database, not process memory, decides:
a second insert of the same nonce fails with an integrity error in whichever process tries it.
"""

from __future__ import annotations

import time

from sqlalchemy import Float, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

# Expired rows are deleted at most this often per process, so a launch rarely pays for it.
_PURGE_INTERVAL_S = 60.0


class _Base(DeclarativeBase):
    pass


class UsedNonce(_Base):
    """A nonce seen in an accepted launch, kept until it can no longer be replayed."""

    __tablename__ = "multilogin_used_nonces"

    # scope keeps sources and platforms apart: "lti11:<consumer key>", "lti13:<issuer>".
    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class NonceStore:
    """Records nonces through a SQLAlchemy session on the hub database."""

    def __init__(self) -> None:
        self._tables_ready: set[int] = set()
        self._last_purge = 0.0

    def _ensure_table(self, session: Session) -> None:
        engine = session.get_bind()
        if id(engine) not in self._tables_ready:
            _Base.metadata.create_all(engine, checkfirst=True)
            self._tables_ready.add(id(engine))

    def _purge_expired(self, session: Session, now: float) -> None:
        if now - self._last_purge >= _PURGE_INTERVAL_S:
            session.execute(delete(UsedNonce).where(UsedNonce.expires_at < now))
            self._last_purge = now

    def claim(self, session: Session, scope: str, nonce: str, lifetime_s: float) -> bool:
        """Record `nonce` as used; False when it was already recorded.

        A nonce still in the table after its expiry is refused too: the launch that carries it
        is past its timestamp or token lifetime anyway, and an insert without a read first is
        one statement per launch.
        """
        self._ensure_table(session)
        now = time.time()
        self._purge_expired(session, now)
        session.add(UsedNonce(scope=scope, nonce=nonce, expires_at=now + lifetime_s))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
        return True
