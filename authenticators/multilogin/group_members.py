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
from sqlalchemy.orm import Session


def unload_members(db: Session, group_names: Collection[str]) -> None:
    """Drop the loaded member lists of these groups from the hub's session `db`.

    Only a group the session holds can have its members loaded, so the session's identity map
    is walked, not the database asked. The session is flushed before a list is dropped, so no
    unflushed membership change goes with it.
    """
    if not group_names:
        return
    loaded = [
        held
        for held in db.identity_map.values()
        if isinstance(held, orm.Group)
        and held.name in group_names
        and "users" not in sqlalchemy.inspect(held).unloaded
    ]
    if loaded:
        db.flush()
        for group in loaded:
            db.expire(group, ["users"])
