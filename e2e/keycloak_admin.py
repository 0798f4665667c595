"""Keycloak's admin REST API, for stories that change a person in the campus directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests

from dev_keycloak.server import CONSOLE_ADMIN

REALM = "campus"


class KeycloakAdmin:
    """The dev Keycloak's admin API as its console admin (master realm, admin-cli)."""

    def __init__(self, keycloak_url: str) -> None:
        self.url = keycloak_url
        username, password = CONSOLE_ADMIN
        response = requests.post(
            f"{keycloak_url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": username,
                "password": password,
            },
            timeout=30,
        )
        response.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        self.api = f"{keycloak_url}/admin/realms/{REALM}"

    def _one(self, kind: str, **query: str) -> str:
        response = self.session.get(f"{self.api}/{kind}", params=query, timeout=30)
        response.raise_for_status()
        [found] = response.json()
        return found["id"]

    def _membership(self, username: str, group: str) -> str:
        user_id = self._one("users", username=username, exact="true")
        group_id = self._one("groups", search=group, exact="true")
        return f"{self.api}/users/{user_id}/groups/{group_id}"

    @contextmanager
    def without_group(self, username: str, group: str) -> Iterator[None]:
        """`username` is out of `group` in the directory until the block ends."""
        membership = self._membership(username, group)
        self.session.delete(membership, timeout=30).raise_for_status()
        try:
            yield
        finally:
            self.session.put(membership, timeout=30).raise_for_status()
