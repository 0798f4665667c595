"""The mock Moodle web app: course pages, LTI 1.1 and 1.3 launches, the auth endpoint, JWKS."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import tornado.web

from mock_moodle import keys, lti11, lti13
from mock_moodle.config import Config
from mock_moodle.launches import LaunchError, LaunchForm, find

log = logging.getLogger("mock_moodle")
TEMPLATES = Path(__file__).with_name("templates")


class Platform:
    """Everything the handlers share: the configuration and both LTI platforms."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.signing_key = keys.load_or_create(config.private_key_file)
        self.lti11 = lti11.Lti11Platform(config)
        self.lti13 = lti13.Lti13Platform(config, self.signing_key)

    @property
    def auth_url(self) -> str:
        return self.config.url + self.lti13.auth_path

    @property
    def jwks_url(self) -> str:
        return self.config.url + self.lti13.jwks_path

    def description(self) -> dict[str, Any]:
        """What a tool needs to trust this platform (served as /platform.json)."""
        return {
            "url": self.config.url,
            "lti11": {
                "launch_url": self.config.tool.lti11_launch_url,
                "consumer_key": self.config.consumer_key,
                "shared_secret": self.config.shared_secret,
            },
            "lti13": {
                "issuer": self.config.issuer,
                "client_id": self.config.client_id,
                "deployment_id": self.config.deployment_id,
                "authorize_url": self.auth_url,
                "jwks_url": self.jwks_url,
                "login_url": self.config.tool.lti13_login_url,
                "redirect_uris": list(self.config.tool.lti13_redirect_uris),
            },
            "invalid_modes": {"lti11": lti11.INVALID_MODES, "lti13": lti13.INVALID_MODES},
        }


class PageHandler(tornado.web.RequestHandler):
    """Renders pages and errors as HTML, or as JSON for clients that ask for it."""

    @property
    def platform(self) -> Platform:
        return self.settings["platform"]

    def get_template_namespace(self) -> dict[str, Any]:
        return {
            **super().get_template_namespace(),
            "platform_name": self.platform.config.platform_name,
        }

    def wants_json(self) -> bool:
        return self.get_argument(
            "format", ""
        ) == "json" or "application/json" in self.request.headers.get("Accept", "")

    def send_form(self, form: LaunchForm, title: str) -> None:
        """Answer with the form the browser auto-submits to the tool (or the form as JSON)."""
        self.set_header("Cache-Control", "no-store")
        if self.wants_json():
            self.write(form.as_json())
        else:
            self.render("autosubmit.html", form=form, title=title)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, LaunchError):
            message = error.message
        elif isinstance(error, tornado.web.HTTPError) and error.log_message:
            message = error.log_message % error.args
        else:
            message = self._reason
        if self.wants_json():
            self.finish({"status": status_code, "error": message})
        else:
            self.render("error.html", status=status_code, message=message)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, LaunchError):
            log.warning(
                "%s %s refused (%d): %s",
                self.request.method,
                self.request.uri,
                value.status,
                value.message,
            )
        else:
            super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, LaunchError):
            status_code = error.status
        super().send_error(status_code, **kwargs)

    def launch_arguments(self) -> tuple[str, str, str | None]:
        return (
            self.get_argument("user"),
            self.get_argument("course"),
            self.get_argument("invalid", None) or None,
        )


class IndexHandler(PageHandler):
    def get(self) -> None:
        platform = self.platform
        self.render(
            "index.html",
            courses=platform.config.courses.values(),
            users=platform.config.users.values(),
            issuer=platform.config.issuer,
            client_id=platform.config.client_id,
            deployment_id=platform.config.deployment_id,
            consumer_key=platform.config.consumer_key,
            auth_url=platform.auth_url,
            jwks_url=platform.jwks_url,
        )


class CourseHandler(PageHandler):
    def get(self, context_id: str) -> None:
        config = self.platform.config
        course = config.courses.get(context_id)
        if course is None:
            raise LaunchError(404, f"no course {context_id!r}")
        username = self.get_argument("user", next(iter(config.users)))
        user = config.users.get(username)
        if user is None:
            raise LaunchError(404, f"no user {username!r}")
        self.render(
            "course.html",
            course=course,
            user=user,
            lti11_modes=lti11.INVALID_MODES,
            lti13_modes=lti13.INVALID_MODES,
        )


class Lti11LaunchHandler(PageHandler):
    def get(self) -> None:
        form = self.platform.lti11.launch(*self.launch_arguments())
        self.send_form(form, "Launching JupyterHub (LTI 1.1)")


class Lti13LaunchHandler(PageHandler):
    def get(self) -> None:
        form = self.platform.lti13.login_initiation(*self.launch_arguments())
        self.send_form(form, "Launching JupyterHub (LTI 1.3)")


class Lti13EmbeddedHandler(PageHandler):
    """A course page with the LTI 1.3 launch in an iframe (Moodle's launch container "Embed")."""

    def get(self) -> None:
        username, context_id, _ = self.launch_arguments()
        config = self.platform.config
        user, course = find(config.users, config.courses, username, context_id)
        self.render("embedded.html", user=user, course=course)


class AuthHandler(PageHandler):
    """The OIDC authentication request endpoint; Moodle's is `/mod/lti/auth.php`."""

    def get(self) -> None:
        request = {name: self.get_argument(name) for name in self.request.arguments}
        self.send_form(self.platform.lti13.authenticate(request), "Signing in to JupyterHub")

    post = get


class JwksHandler(PageHandler):
    def get(self) -> None:
        self.write(keys.jwks(self.platform.signing_key))


class PlatformHandler(PageHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.platform.description(), indent=2))


class HealthHandler(PageHandler):
    def get(self) -> None:
        self.write({"status": "ok"})


def make_app(config: Config) -> tornado.web.Application:
    """The web app for a configuration whose URL is known (see Config.for_port)."""
    platform = Platform(config)
    return tornado.web.Application(
        [
            (r"/", IndexHandler),
            (r"/course/([^/]+)", CourseHandler),
            (r"/lti11/launch", Lti11LaunchHandler),
            (r"/lti13/launch", Lti13LaunchHandler),
            (r"/lti13/embedded", Lti13EmbeddedHandler),
            (platform.lti13.auth_path, AuthHandler),
            (platform.lti13.jwks_path, JwksHandler),
            (r"/platform.json", PlatformHandler),
            (r"/healthz", HealthHandler),
        ],
        template_path=str(TEMPLATES),
        platform=platform,
    )
