"""A launch adds its student to the course group without the hub loading the group's members:
with them loaded, every flush of the hub's session compares the whole member list, so each
launch into a course cost more than the one before (see the LTI benchmark in the README)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy
from inprocess_hub import HubUnderTest
from jupyterhub import orm
from test_multilogin_lti11 import launch, signed

COURSE_GROUP = "course-moodle.42"
STUDENTS = [f"student-{n:02d}" for n in range(12)]


def course_group(hub: HubUnderTest) -> orm.Group:
    # The hub's own session, as the next launch finds it (no expire_all, unlike hub.user()).
    return hub.app.db.query(orm.Group).filter_by(name=COURSE_GROUP).one()


def members_loaded(group: orm.Group) -> bool:
    return "users" not in sqlalchemy.inspect(group).unloaded


def members_in_database(hub: HubUnderTest) -> set[str]:
    engine = hub.app.db.get_bind()
    with sqlalchemy.orm.Session(engine) as session:
        rows = session.execute(
            sqlalchemy.select(orm.User.name)
            .join(orm.user_group_map, orm.user_group_map.c.user_id == orm.User.id)
            .join(orm.Group, orm.Group.id == orm.user_group_map.c.group_id)
            .where(orm.Group.name == COURSE_GROUP)
        )
        return {name for (name,) in rows}


async def test_launches_into_a_course_leave_its_member_list_unloaded(hub: HubUnderTest):
    for name in STUDENTS:
        assert (await launch(hub, signed(hub, username=name))).code == 302

    assert not members_loaded(course_group(hub))
    assert members_in_database(hub) == set(STUDENTS)


async def test_a_launch_unloads_members_something_else_loaded(hub: HubUnderTest):
    for name in STUDENTS[:3]:
        assert (await launch(hub, signed(hub, username=name))).code == 302
    # As the admin page or the groups API does.
    assert len(course_group(hub).users) == 3

    assert (await launch(hub, signed(hub, username="late-student"))).code == 302

    assert not members_loaded(course_group(hub))
    assert members_in_database(hub) == {*STUDENTS[:3], "late-student"}


def statements_during(hub: HubUnderTest, action: Callable[[], None]) -> list[str]:
    engine = hub.app.db.get_bind()
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    sqlalchemy.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", record)
    return seen


async def test_finding_a_known_course_group_asks_the_database_nothing(hub: HubUnderTest):
    for name in STUDENTS[:2]:
        assert (await launch(hub, signed(hub, username=name))).code == 302
    group = course_group(hub)
    assert len(group.users) == 2

    unload = hub.authenticator.member_lists.unload
    seen = statements_during(hub, lambda: unload(hub.app.db, [COURSE_GROUP]))

    assert seen == []
    assert not members_loaded(group)


async def test_a_course_group_made_anew_is_found_under_its_new_key(hub: HubUnderTest):
    assert (await launch(hub, signed(hub, username="first"))).code == 302
    db = hub.app.db
    db.delete(course_group(hub))
    db.commit()
    assert (await launch(hub, signed(hub, username="second"))).code == 302
    assert len(course_group(hub).users) == 1

    hub.authenticator.member_lists.unload(db, [COURSE_GROUP])

    assert not members_loaded(course_group(hub))
