"""Links from the identities a person has at each login source to their one hub account.

An identity is what a source proves about a person, never a name they claim: a Keycloak
subject, an LTI 1.1 (consumer key, user_id), an LTI 1.3 (issuer, client id, sub). Each identity
is linked to at most one hub account; an account may have several identities. The links live in
the hub database (table `multilogin_identities`), beside the nonces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Float, Row, String, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .hub_tables import Base, own_transaction, read

# How a link came to be; `separate` accounts belong to their platform identity alone.
LINKED_BY_KEYCLOAK = "keycloak"
LINKED_BY_AUTHORITATIVE_PLATFORM = "authoritative-platform"
LINKED_BY_CONFIRMATION = "confirmed-with-keycloak"
LINKED_AS_SEPARATE_ACCOUNT = "separate-account"

# Column width: LTI 1.3 caps `sub` at 255 characters; longer values are refused before a lookup.
MAX_PART_LENGTH = 255


@dataclass(frozen=True)
class Identity:
    """A person as one source knows them. `client_id` is empty except for LTI 1.3."""

    source: str
    issuer: str
    client_id: str
    subject: str

    def too_long(self) -> bool:
        parts = (self.source, self.issuer, self.client_id, self.subject)
        return any(len(part) > MAX_PART_LENGTH for part in parts)


@dataclass(frozen=True)
class Link:
    identity: Identity
    username: str
    how: str
    linked_at: float
    last_login_at: float


class _LinkedIdentity(Base):
    __tablename__ = "multilogin_identities"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(MAX_PART_LENGTH), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(MAX_PART_LENGTH), primary_key=True)
    subject: Mapped[str] = mapped_column(String(MAX_PART_LENGTH), primary_key=True)
    username: Mapped[str] = mapped_column(String(MAX_PART_LENGTH), index=True)
    how: Mapped[str] = mapped_column(String(32))
    linked_at: Mapped[float] = mapped_column(Float)
    last_login_at: Mapped[float] = mapped_column(Float)


def _is(identity: Identity) -> tuple[ColumnElement[bool], ...]:
    """The conditions that select the row of `identity`."""
    return (
        _LinkedIdentity.source == identity.source,
        _LinkedIdentity.issuer == identity.issuer,
        _LinkedIdentity.client_id == identity.client_id,
        _LinkedIdentity.subject == identity.subject,
    )


class AlreadyLinked(Exception):
    """The identity's row is in the table already; the transaction is to be rolled back."""


def _as_link(row: Row) -> Link:
    identity = Identity(row.source, row.issuer, row.client_id, row.subject)
    return Link(identity, row.username, row.how, row.linked_at, row.last_login_at)


_LINKS = select(_LinkedIdentity.__table__)


class IdentityStore:
    """Reads links on the hub's session (hub_tables.read); writes them in transactions of their
    own."""

    def link_of(self, hub_db: Session, identity: Identity) -> Link | None:
        row = read(hub_db, _LINKS.where(*_is(identity))).first()
        return _as_link(row) if row else None

    def links_of(self, hub_db: Session, username: str) -> list[Link]:
        rows = read(hub_db, _LINKS.where(_LinkedIdentity.username == username))
        return sorted((_as_link(row) for row in rows), key=lambda link: link.linked_at)

    def link(self, hub_db: Session, identity: Identity, username: str, how: str) -> bool:
        """Link `identity` to `username`; False when it is linked already (to any account)."""
        try:
            with own_transaction(hub_db) as connection:
                self.write_link(connection, identity, username, how)
        except AlreadyLinked:
            return False
        return True

    @staticmethod
    def write_link(connection: Connection, identity: Identity, username: str, how: str) -> None:
        """Insert the link on `connection`; AlreadyLinked when the identity is linked already
        (the row's unique key fails the transaction: raise on, so that it is rolled back)."""
        now = time.time()
        row = {
            "source": identity.source,
            "issuer": identity.issuer,
            "client_id": identity.client_id,
            "subject": identity.subject,
            "username": username,
            "how": how,
            "linked_at": now,
            "last_login_at": now,
        }
        try:
            connection.execute(insert(_LinkedIdentity), row)
        except IntegrityError:
            raise AlreadyLinked from None

    def record_login(self, hub_db: Session, identity: Identity) -> None:
        with own_transaction(hub_db) as connection:
            self.write_login(connection, identity)

    @staticmethod
    def write_login(connection: Connection, identity: Identity) -> None:
        """Set the identity's last login to now, on `connection`."""
        connection.execute(
            update(_LinkedIdentity).where(*_is(identity)).values(last_login_at=time.time())
        )

    def unlink(self, hub_db: Session, identity: Identity, username: str) -> bool:
        """Remove the link of `identity` to `username`; False when there was none."""
        with own_transaction(hub_db) as connection:
            removed = connection.execute(
                delete(_LinkedIdentity).where(_LinkedIdentity.username == username, *_is(identity))
            )
            return bool(removed.rowcount)

    def unlink_all(self, hub_db: Session, username: str) -> int:
        """Remove every link to `username` (the account is deleted); how many there were."""
        with own_transaction(hub_db) as connection:
            removed = connection.execute(
                delete(_LinkedIdentity).where(_LinkedIdentity.username == username)
            )
            return removed.rowcount
