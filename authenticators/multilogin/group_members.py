"""Joining a group at login without the hub holding the group's member list.

After authentication JupyterHub's `user.sync_groups()` sets the user's groups, and SQLAlchemy
appends the user to each group's `users` collection too (the other side of the relationship).
The hub's session never expires what it loaded (`expire_on_commit=False`), so a group whose
members it once loaded (it created the group, or a page listed the members) keeps them loaded,
and then every flush compares the whole member list with the one last committed: each launch
into a course of N students cost O(N). With the collection unloaded, the append is only kept
as pending, and the flush inserts the one membership row.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy
from jupyterhub import orm
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key


class MemberLists:
    """Drops the loaded member lists of groups from the hub's session, by each group's name.

    A group's object is found in the session's identity map by its primary key, which is looked
    up once per name and process: walking the whole map would cost every launch more the more
    accounts the hub holds. A name whose object is not in the map (not loaded, or deleted and
    made anew with another key) is looked up again.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def unload(self, db: Session, group_names: Collection[str]) -> None:
        """Expire the loaded member lists of these groups in `db`, flushing it first, so no
        unflushed membership change goes with them."""
        held = (self._held(db, name) for name in group_names)
        loaded = [
            group
            for group in held
            if group is not None and "users" not in sqlalchemy.inspect(group).unloaded
        ]
        if loaded:
            db.flush()
            for group in loaded:
                db.expire(group, ["users"])

    def _held(self, db: Session, name: str) -> orm.Group | None:
        group = self._in_map(db, self._ids.get(name))
        if group is None or group.name != name:
            group_id = db.scalar(select(orm.Group.id).where(orm.Group.name == name))
            if group_id is None:
                return None
            self._ids[name] = group_id
            group = self._in_map(db, group_id)
        return group

    @staticmethod
    def _in_map(db: Session, group_id: int | None) -> orm.Group | None:
        if group_id is None:
            return None
        return db.identity_map.get(identity_key(orm.Group, group_id))
