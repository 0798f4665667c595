"""Test helpers for backups: a hub database in use (JupyterHub's rows and multilogin's), and
every row of a database, to compare one before a backup with one after its restore."""

from __future__ import annotations

import io

import pytest
from jupyterhub import orm
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.orm import Session

from hubconfig.backup import BackupError, create, restore
from multilogin.identities import Identity, IdentityStore
from multilogin.nonces import NonceClaim, NonceStore

PERSON = Identity("keycloak", "https://sso.example.edu/realms/campus", "", "sub-ada")


def backup_of(url: str) -> bytes:
    """A backup of the database at `url`, as `python -m hubconfig.backup create` writes it."""
    out = io.BytesIO()
    create(url, out)
    return out.getvalue()


def restores_only_when_forced(url: str, backup: bytes) -> None:
    """A restore into `url`, which has tables, is refused with a line naming --force; forced,
    it is done."""
    with pytest.raises(BackupError, match=r"already has \d+ tables .* pass --force"):
        restore(url, io.BytesIO(backup))
    restore(url, io.BytesIO(backup), force=True)


def refused_in_one_line(url: str, content: bytes, message: str) -> None:
    """A restore of `content` into `url` is refused with one line matching `message`."""
    with pytest.raises(BackupError, match=message) as refused:
        restore(url, io.BytesIO(content))
    assert "\n" not in str(refused.value)


def used_hub_database(url: str) -> None:
    """What a hub in use leaves: users with servers and API tokens, an LTI nonce, a link."""
    session = orm.new_session_factory(url)()
    # The hub's own OAuth client, which JupyterHub makes at its start: tokens belong to it.
    session.add(orm.OAuthClient(identifier="jupyterhub"))
    session.commit()
    for name in ("ada", "grace"):
        user = orm.User(name=name)
        session.add(user)
        session.commit()
        server = orm.Server(ip="10.1.2.3", port=8888, base_url=f"/user/{name}/")
        session.add(orm.Spawner(user=user, name="", server=server, state={"pod": f"lab-{name}"}))
        session.commit()
        user.new_api_token(note=f"token of {name}")
    engine = session.get_bind()
    with Session(engine) as hub_db:
        assert NonceStore().claim(
            hub_db, NonceClaim("lti13:https://moodle.example.edu", "nonce-1", 3600)
        )
        assert IdentityStore().link(hub_db, PERSON, "ada", "keycloak")
    session.close()
    engine.dispose()


def every_row(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, as plain values."""
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        found = {
            name: sorted(tuple(map(repr, row)) for row in connection.execute(select(table)))
            for name, table in metadata.tables.items()
        }
    engine.dispose()
    return found
