"""Replay protection that holds across hub restarts and several hub processes.

Every accepted nonce (LTI 1.1 `oauth_nonce`, LTI 1.3 id_token `nonce`) is inserted into a table
of the hub database with a unique key and an expiry. The database, not process memory, decides:
a second insert of the same nonce fails with an integrity error in whichever process tries it.
The table is written in a transaction of its own (hub_tables.own_transaction), never the hub's.

A signed launch's nonce is recorded whatever comes of the launch. A launch that signs someone in
records it in the same transaction as the sign-in itself (the identity's link or login time), so
a launch costs one commit of this package's tables, not two; a launch refused or failed on the
way records it alone (`recorded_if_refused`), and a replay is then told that it is one. Only a
database that cannot be written leaves a nonce unrecorded: that launch gets a 503 and signs
nobody in.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Float, String, delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .errors import LoginRefused
from .hub_tables import Base, own_transaction

# Expired rows are deleted at most this often per process, so a launch rarely pays for it.
_PURGE_INTERVAL_S = 60.0
_RELAUNCH = "Go back to Moodle and open the link again."


@dataclass
class NonceClaim:
    """A nonce of a signed launch, to be recorded as used.

    `scope` keeps sources and platforms apart: "lti11:<consumer key>", "lti13:<issuer>";
    `lifetime_s` is how long it must be remembered (the launch's own validity, and a margin).
    `settled` once the database has answered for it in this request: recorded now, or found
    recorded already.
    """

    scope: str
    nonce: str
    lifetime_s: float
    settled: bool = field(default=False, compare=False)


def database_unavailable(scope: str, what: str, error: SQLAlchemyError) -> LoginRefused:
    """The answer to a launch the hub database cannot check now (locked or unreachable): it
    may well be able to soon."""
    return LoginRefused(
        503,
        "The hub could not check this launch right now. Try again in a moment: go back "
        "to Moodle and open the link again.",
        f"{scope}: {what}: {type(error).__name__}: {error}",
    )


def replayed(claim: NonceClaim) -> LoginRefused:
    return LoginRefused(
        401,
        f"This launch was already used. {_RELAUNCH}",
        f"{claim.scope}: replayed nonce",
    )


def nonce_digest(nonce: str) -> str:
    """What the table stores for a nonce: SHA-256 hex, 64 characters whatever the sender sent,
    so an over-long nonce fits its column on every database and is still compared exactly."""
    return hashlib.sha256(nonce.encode("utf-8")).hexdigest()


class UsedNonce(Base):
    """A nonce seen in an accepted launch, kept until it can no longer be replayed."""

    __tablename__ = "multilogin_used_nonces"

    # scope keeps sources and platforms apart: "lti11:<consumer key>", "lti13:<issuer>".
    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    # nonce_digest() of the nonce.
    nonce: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class _AlreadyUsed(Exception):
    """The nonce's row is in the table already."""


class NonceStore:
    """Records nonces in the hub database, in transactions separate from the hub's."""

    def __init__(self) -> None:
        self._last_purge = 0.0

    def _purge_expired(self, hub_db: Session, now: float) -> None:
        if now - self._last_purge >= _PURGE_INTERVAL_S:
            with own_transaction(hub_db) as connection:
                connection.execute(delete(UsedNonce).where(UsedNonce.expires_at < now))
            self._last_purge = now

    @staticmethod
    def _insert(connection: Connection, scope: str, nonce: str, expires_at: float) -> None:
        row = {"scope": scope, "nonce": nonce_digest(nonce), "expires_at": expires_at}
        try:
            connection.execute(insert(UsedNonce), row)
        except IntegrityError:
            # Raised on, so the transaction is rolled back; apart from an IntegrityError of
            # creating the tables, which is no replay.
            raise _AlreadyUsed from None

    def claim(
        self,
        hub_db: Session,
        claim: NonceClaim,
        along: Callable[[Connection], None] | None = None,
    ) -> bool:
        """Record the nonce as used, and run `along` in the same transaction; False when it was
        already recorded (nothing is kept then, and `along` has not run), LoginRefused (503)
        when the database cannot say. An exception from `along` rolls the nonce back too.

        `hub_db` only names the database (the hub's engine); its pending changes are left alone.
        A nonce still in the table after its expiry is refused too: the launch that carries it
        is past its timestamp or token lifetime anyway, and an insert without a read first is
        one statement per launch.
        """
        now = time.time()
        try:
            self._purge_expired(hub_db, now)
            with own_transaction(hub_db) as connection:
                self._insert(connection, claim.scope, claim.nonce, now + claim.lifetime_s)
                if along is not None:
                    along(connection)
        except _AlreadyUsed:
            claim.settled = True
            return False
        except SQLAlchemyError as error:
            # A locked or unreachable database (or another process creating the table at the
            # same moment): the launch cannot be checked for replay now, but may be soon.
            raise database_unavailable(claim.scope, "nonce not recorded", error) from None
        claim.settled = True
        return True

    def claim_or_refuse(self, hub_db: Session, claim: NonceClaim) -> None:
        """Record the nonce as used; the replay refusal (401) when it was already."""
        if not self.claim(hub_db, claim):
            raise replayed(claim)

    @contextmanager
    def recorded_if_refused(self, hub_db: Session, claim: NonceClaim) -> Iterator[None]:
        """A launch refused or failed in this block still uses up its nonce, so that it cannot
        be replayed once whatever stopped it has changed; a replay is refused as one, first.
        A nonce the database has answered for already is not recorded twice."""
        try:
            yield
        except Exception as error:
            # A database that could not record the nonce, or answer at all, is not asked again
            # at once.
            unavailable = isinstance(error, SQLAlchemyError) or (
                isinstance(error, LoginRefused) and error.status_code == 503
            )
            if not unavailable and not claim.settled:
                self.claim_or_refuse(hub_db, claim)
            raise
