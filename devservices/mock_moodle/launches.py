"""What both LTI versions share: the form a browser posts, launch errors, custom parameters."""

from __future__ import annotations

from dataclasses import dataclass

from mock_moodle.config import Course, User


@dataclass(frozen=True)
class LaunchForm:
    """A form the platform makes the browser POST to the tool (auto-submitted in HTML)."""

    url: str
    fields: dict[str, str]

    def as_json(self) -> dict[str, object]:
        return {"url": self.url, "method": "POST", "fields": self.fields}


class LaunchError(Exception):
    """A launch the platform refuses to produce; the page shows `message` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def substitutions(user: User, course: Course) -> dict[str, str]:
    """Moodle's custom-parameter variables that the mock expands."""
    return {
        "$User.id": user.user_id,
        "$User.username": user.username,
        "$Person.name.given": user.given_name,
        "$Person.name.family": user.family_name,
        "$Person.name.full": user.full_name,
        "$Person.email.primary": user.email,
        "$Context.id": course.context_id,
        "$Context.title": course.title,
        "$Context.label": course.label,
    }


def custom_parameters(user: User, course: Course) -> dict[str, str]:
    """The course's custom parameters with Moodle variables (`$User.username`, ...) expanded."""
    variables = substitutions(user, course)
    return {key: variables.get(value, value) for key, value in course.custom.items()}


def find(
    config_users: dict[str, User], config_courses: dict[str, Course], username: str, context_id: str
) -> tuple[User, Course]:
    """The user and course a launch is for, or a 404 LaunchError naming what is unknown."""
    if username not in config_users:
        raise LaunchError(404, f"no user {username!r} in the mock's configuration")
    if context_id not in config_courses:
        raise LaunchError(404, f"no course {context_id!r} in the mock's configuration")
    return config_users[username], config_courses[context_id]
