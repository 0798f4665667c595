"""Which spawn requests give options, and which leave JupyterHub to reuse the stored ones."""

from __future__ import annotations

import pytest
from hub_fakes import hub_request
from jupyterhub.apihandlers.users import UserServerAPIHandler
from jupyterhub.handlers.pages import SpawnHandler

from hubconfig.spawn_request import gives_options

SERVER_API = "/hub/api/users/stu/server"


@pytest.mark.parametrize(
    ("handler_class", "method", "uri", "body", "expected"),
    [
        (SpawnHandler, "GET", "/hub/spawn", b"", False),
        (SpawnHandler, "GET", "/hub/spawn?next=%2Fhub%2Fhome&display_name=x", b"", False),
        (SpawnHandler, "GET", "/hub/spawn?opt-profile=gpu", b"", True),
        (SpawnHandler, "GET", "/hub/spawn?profile=gpu", b"", True),
        (SpawnHandler, "POST", "/hub/spawn", b"profile=gpu", True),
        (UserServerAPIHandler, "POST", SERVER_API, b"", False),
        (UserServerAPIHandler, "POST", SERVER_API, b'{"user_options": null}', False),
        (UserServerAPIHandler, "POST", SERVER_API, b'{"user_options": {"profile": "gpu"}}', True),
        (UserServerAPIHandler, "POST", SERVER_API, b'{"profile": "gpu"}', True),
    ],
)
def test_request_gives_options(
    handler_class: type, method: str, uri: str, body: bytes, expected: bool
) -> None:
    assert gives_options(hub_request(handler_class, method, uri, body)) is expected


def test_spawn_without_a_request_gives_its_options() -> None:
    assert gives_options(None) is True
