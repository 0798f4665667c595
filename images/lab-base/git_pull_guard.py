"""A Jupyter server extension: nbgitpuller's routes answer 400 to links no course would send.

nbgitpuller renders `repo` and the target path into its status page without HTML escaping, and
clones into any `targetpath` the user can write: absolute paths, `..`, and hidden folders such as
`.ipython/profile_default/startup`, whose files run at every kernel start
(https://github.com/jupyterhub/nbgitpuller/issues/330). A link posted in a course forum could
then run script in a student's lab, or plant files that run later. This extension's handlers
check the query first and hand sound links to nbgitpuller's own handlers.

Its handlers take nbgitpuller's routes because Jupyter Server loads extensions in alphabetical
order (`git_pull_guard` before `nbgitpuller`) and Tornado matches the routes added first;
images/tests/test_labs.py sends the attacks to a running lab.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import url_path_join
from tornado import web

# Characters that end an HTML attribute or start a tag, and control characters.
UNSAFE_CHARACTERS = re.compile(r"[<>\"'`\x00-\x1f\x7f]")
REPO_SCHEMES = ("https", "http")
BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
TARGET_PATH_KEYS = ("targetpath", "targetPath")
# ASCII digits: str.isdigit() also accepts "²", on which nbgitpuller's int() fails with a
# traceback in the page.
DEPTH = re.compile(r"[0-9]+")


def link_problem(arguments: dict[str, list[bytes]]) -> str | None:
    """Why a git-pull query is refused, naming the key at fault; None when it is sound."""
    values = {}
    for key, raw in arguments.items():
        try:
            value = raw[-1].decode()
        except UnicodeDecodeError:
            return f"{key}: not UTF-8"
        if UNSAFE_CHARACTERS.search(key + value):
            return f"{key}: quotes, angle brackets and control characters are not allowed"
        # nbgitpuller reads each argument with Tornado's get_argument, which strips whitespace
        # (Unicode spaces too), so " /etc" is checked as the "/etc" it clones into.
        values[key] = value.strip()
    repo = urlsplit(values.get("repo", ""))
    if repo.scheme not in REPO_SCHEMES or not repo.netloc:
        return "repo: must be an http:// or https:// URL of a git repository"
    if "branch" in values and not BRANCH.fullmatch(values["branch"]):
        return "branch: must be a git branch name"
    if "depth" in values and not DEPTH.fullmatch(values["depth"]):
        return "depth: must be a whole number"
    for key in TARGET_PATH_KEYS:
        if key in values and not inside_home(values[key]):
            return f"{key}: must be a folder inside the home folder, not a hidden one"
    # Without `targetpath` nbgitpuller clones into the last "/"-separated part of `repo` (the
    # page strips a final "/" first, the pull does not and ignores `targetPath`), so a link to
    # https://host/.ipython would clone into ~/.ipython.
    if "targetpath" not in values:
        repo_name = values["repo"]
        if not all(inside_home(name.split("/")[-1]) for name in (repo_name, repo_name.rstrip("/"))):
            return (
                "repo: without targetpath the repository is cloned into the folder its URL ends "
                "with, which must be a folder name that is not hidden; give targetpath"
            )
    return None


def inside_home(path: str) -> bool:
    """A relative path that stays in the server's root folder and names no hidden folder."""
    if not path or path.startswith("/"):
        return False
    parts = posixpath.normpath(path).split("/")
    return not any(part.startswith(".") for part in parts)


class LinkCheck:
    """Refuses unsound links after authentication, before nbgitpuller's own `get` runs."""

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        await super().prepare(*args, **kwargs)
        problem = link_problem(self.request.query_arguments)
        if problem is not None:
            # As an argument, not the format: the key in it is the client's.
            raise web.HTTPError(400, "%s", problem)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "git_pull_guard"}]


def _load_jupyter_server_extension(app: ServerApp) -> None:
    # nbgitpuller picks its base handler class from the app; it must before its handlers import.
    from nbgitpuller._compat import get_base_handler

    get_base_handler(app)
    from nbgitpuller.handlers import SyncHandler, UIHandler

    class CheckedUIHandler(LinkCheck, UIHandler):
        pass

    class CheckedSyncHandler(LinkCheck, SyncHandler):
        pass

    route = url_path_join(app.web_app.settings["base_url"], "git-pull")
    app.web_app.add_handlers(
        ".*",
        [(url_path_join(route, "api"), CheckedSyncHandler), (route, CheckedUIHandler)],
    )
