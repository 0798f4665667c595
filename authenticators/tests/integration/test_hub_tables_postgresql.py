"""multilogin's tables (LTI nonces, identity links) on a real PostgreSQL, the production database.

The database runs from this project's image (devservices/postgresql_fixture.py). The unit tests
run the same stores on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from jupyterhub import orm
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from hubconfig import migrations
from multilogin.hub_tables import Base, ensure_tables
from multilogin.identities import MAX_PART_LENGTH, Identity, IdentityStore
from multilogin.nonces import NonceClaim, NonceStore
from postgresql_fixture import postgresql_url

pytestmark = pytest.mark.integration

__all__ = ["postgresql_url"]


@pytest.fixture
def hub_db(postgresql_url: str) -> Iterator[Session]:
    """A hub session on the database; multilogin's tables are dropped after each test."""
    engine = create_engine(postgresql_url)
    with Session(engine) as session:
        yield session
    Base.metadata.drop_all(engine)
    engine.dispose()


def test_hubs_creating_the_tables_at_the_same_moment_all_succeed(postgresql_url: str) -> None:
    engines = [create_engine(postgresql_url) for _ in range(8)]
    try:
        with ThreadPoolExecutor(max_workers=len(engines)) as pool:
            list(pool.map(ensure_tables, engines))
    finally:
        Base.metadata.drop_all(engines[0])
        for engine in engines:
            engine.dispose()


def test_a_nonce_is_accepted_once_per_scope(hub_db: Session) -> None:
    store = NonceStore()
    assert store.claim(hub_db, NonceClaim("lti13:https://moodle.example.edu", "n-1", 60)) is True
    assert store.claim(hub_db, NonceClaim("lti13:https://moodle.example.edu", "n-1", 60)) is False
    assert store.claim(hub_db, NonceClaim("lti11:consumer", "n-1", 60)) is True
    # Stored as a digest: a nonce far longer than its column is still one nonce.
    long_nonce = "x" * 10_000
    assert store.claim(hub_db, NonceClaim("lti11:consumer", long_nonce, 60)) is True
    assert store.claim(hub_db, NonceClaim("lti11:consumer", long_nonce, 60)) is False


def test_two_hubs_claiming_one_nonce_at_once_accept_it_once(
    postgresql_url: str, hub_db: Session
) -> None:
    ensure_tables(hub_db.get_bind())
    engines = [create_engine(postgresql_url) for _ in range(8)]

    def claim(engine: object) -> bool:
        with Session(engine) as session:
            return NonceStore().claim(
                session, NonceClaim("lti13:https://moodle.example.edu", "raced", 60)
            )

    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        outcomes = list(pool.map(claim, engines))
    for engine in engines:
        engine.dispose()
    assert sorted(outcomes) == [False] * (len(engines) - 1) + [True]


def test_identity_links_live_and_die_with_the_account(hub_db: Session) -> None:
    store = IdentityStore()
    longest = "s" * MAX_PART_LENGTH
    campus = Identity("keycloak", "https://login.example.edu/realms/campus", "", longest)
    moodle = Identity("lti13", "https://moodle.example.edu", "client-1", "42")
    assert store.link(hub_db, campus, "stu", "keycloak") is True
    assert store.link(hub_db, campus, "someone-else", "keycloak") is False
    assert store.link(hub_db, moodle, "stu", "confirmed-with-keycloak") is True
    assert store.link_of(hub_db, campus).username == "stu"
    before = store.link_of(hub_db, moodle).last_login_at
    store.record_login(hub_db, moodle)
    assert store.link_of(hub_db, moodle).last_login_at >= before
    assert [link.identity for link in store.links_of(hub_db, "stu")] == [campus, moodle]
    assert store.unlink(hub_db, moodle, "someone-else") is False
    assert store.unlink(hub_db, moodle, "stu") is True
    assert store.unlink_all(hub_db, "stu") == 1
    assert store.link_of(hub_db, campus) is None


def test_a_started_hub_with_our_tables_is_migrated(postgresql_url: str, hub_db: Session) -> None:
    orm.new_session_factory(postgresql_url)
    assert "multilogin's table multilogin_used_nonces is missing" in migrations.problems(
        postgresql_url
    )
    NonceStore().claim(hub_db, NonceClaim("lti11:consumer", "first-launch", 60))
    assert migrations.problems(postgresql_url) == []
