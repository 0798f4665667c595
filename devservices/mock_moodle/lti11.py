"""LTI 1.1 launches as Moodle's External tool activity sends them: a signed form POST.

The parameter set follows Moodle's `mod/lti/locallib.php` (lti_build_request and
lti_build_standard_message) for a course activity with names and emails shared with the tool.
"""

from __future__ import annotations

import re
import secrets
import time

from mock_moodle import oauth1
from mock_moodle.config import Config, Course, User
from mock_moodle.launches import LaunchError, LaunchForm, custom_parameters, find
from mock_moodle.roles import lti11_roles

# The invalid launches the mock produces on request, for the tool's rejection tests.
INVALID_MODES = {
    "bad_signature": "signature computed with the wrong shared secret",
    "missing_signature": "no oauth_signature parameter",
    "unknown_consumer_key": "signed with a consumer key the tool does not know",
    "stale_timestamp": "correctly signed, but oauth_timestamp is an hour old",
    "replayed_nonce": "the previous launch for this user and course, re-posted byte for byte",
}
UNKNOWN_CONSUMER_KEY = "unknown-consumer"
STALE_AGE_S = 3600


def custom_name(key: str) -> str:
    """Moodle's LTI 1.1 custom parameter name: lower case, other characters as `_`."""
    return "custom_" + re.sub(r"[^a-z0-9]", "_", key.lower())


def launch_parameters(config: Config, user: User, course: Course) -> dict[str, str]:
    """The LTI parameters of a launch, before the OAuth ones are added."""
    params = {
        "lti_message_type": "basic-lti-launch-request",
        "lti_version": "LTI-1p0",
        "resource_link_id": course.resource_link_id,
        "resource_link_title": course.resource_link_title,
        "resource_link_description": "",
        "user_id": user.user_id,
        "lis_person_sourcedid": "",
        "roles": lti11_roles(user.roles),
        "context_id": course.context_id,
        "context_label": course.label,
        "context_title": course.title,
        "context_type": "CourseSection",
        "lis_course_section_sourcedid": "",
        "lis_person_name_given": user.given_name,
        "lis_person_name_family": user.family_name,
        "lis_person_name_full": user.full_name,
        "ext_user_username": user.username,
        "lis_person_contact_email_primary": user.email,
        "launch_presentation_locale": "en",
        "launch_presentation_document_target": "window",
        "launch_presentation_return_url": (
            f"{config.url}/mod/lti/return.php?course={course.context_id}"
            f"&launch_container=4&instanceid={course.resource_link_id}"
        ),
        "ext_lms": "moodle-2",
        "tool_consumer_info_product_family_code": "moodle",
        "tool_consumer_info_version": config.moodle_version,
        "tool_consumer_instance_guid": config.platform_guid,
        "tool_consumer_instance_name": config.platform_name,
        "tool_consumer_instance_description": config.platform_name,
    }
    params.update(
        {custom_name(key): value for key, value in custom_parameters(user, course).items()}
    )
    return params


def oauth_parameters(consumer_key: str, timestamp: int) -> dict[str, str]:
    return {
        "oauth_version": "1.0",
        "oauth_nonce": secrets.token_hex(16),
        "oauth_timestamp": str(timestamp),
        "oauth_consumer_key": consumer_key,
        "oauth_callback": "about:blank",
        "oauth_signature_method": "HMAC-SHA1",
    }


class Lti11Platform:
    """Builds signed LTI 1.1 launches and remembers the last one per user and course."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.last_launch: dict[tuple[str, str], LaunchForm] = {}

    def launch(self, username: str, context_id: str, invalid: str | None = None) -> LaunchForm:
        """The form for a launch; `invalid` names one of INVALID_MODES to break it on purpose."""
        user, course = find(self.config.users, self.config.courses, username, context_id)
        if invalid is not None and invalid not in INVALID_MODES:
            raise LaunchError(400, f"unknown LTI 1.1 invalid mode {invalid!r}")
        if invalid == "replayed_nonce":
            return self.replay(username, context_id)
        url = self.config.tool.lti11_launch_url
        timestamp = int(time.time()) - (STALE_AGE_S if invalid == "stale_timestamp" else 0)
        key = (
            UNKNOWN_CONSUMER_KEY if invalid == "unknown_consumer_key" else self.config.consumer_key
        )
        secret = (
            "not-the-shared-secret" if invalid == "bad_signature" else self.config.shared_secret
        )
        fields = {
            **launch_parameters(self.config, user, course),
            **oauth_parameters(key, timestamp),
        }
        if invalid != "missing_signature":
            fields["oauth_signature"] = oauth1.sign(url, fields, secret)
        form = LaunchForm(url, fields)
        if invalid is None:
            self.last_launch[(username, context_id)] = form
        return form

    def replay(self, username: str, context_id: str) -> LaunchForm:
        previous = self.last_launch.get((username, context_id))
        if previous is None:
            raise LaunchError(
                409,
                f"no earlier LTI 1.1 launch of course {context_id} by {username} to replay; "
                "launch it once validly, then ask for the replay",
            )
        return previous
