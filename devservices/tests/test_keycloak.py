"""The dev Keycloak: its realm file, its helper's errors, and (integration) a real server."""

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from dev_keycloak import server as keycloak_server
from service_fixtures import KeycloakRealm
from tools import keycloak_distribution

REALM = json.loads(keycloak_server.REALM_FILE.read_text())
EXPECTED_GROUPS = {
    "student": {"students"},
    "gpu-student": {"students", "gpu"},
    "instructor": {"instructors"},
    "admin": {"admins"},
    "outsider": set(),
}


def test_the_realm_has_the_documented_users_and_groups() -> None:
    users = {user["username"]: user for user in REALM["users"]}
    assert set(users) == set(EXPECTED_GROUPS)
    for name, groups in EXPECTED_GROUPS.items():
        assert {group.lstrip("/") for group in users[name]["groups"]} == groups
        (password,) = users[name]["credentials"]
        assert password["value"] == f"dev-{name}"
        assert not password["temporary"]


def test_every_user_has_a_fixed_subject() -> None:
    """The dev Keycloak keeps its database in the pod, so a restart imports the realm again.

    The hub pins an account to its Keycloak subject; a subject that changed on every import
    would lock each dev user out of their own account after a Keycloak restart.
    """
    ids = [user.get("id") for user in REALM["users"]]
    assert all(ids), "every user in the realm needs an `id`"
    assert len(set(ids)) == len(ids)


def test_both_hub_clients_map_groups_without_the_full_path() -> None:
    clients = {client["clientId"]: client for client in REALM["clients"]}
    assert set(clients) == {"jupyterhub", "jupyterhub-short-tokens"}
    for client in clients.values():
        assert not client["publicClient"]
        (mapper,) = client["protocolMappers"]
        assert mapper["protocolMapper"] == "oidc-group-membership-mapper"
        assert mapper["config"]["claim.name"] == "groups"
        assert mapper["config"]["full.path"] == "false"
    assert clients["jupyterhub-short-tokens"]["attributes"]["access.token.lifespan"] == "10"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JHK8S_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_fetching_without_maven_is_a_keycloak_error_saying_how_to_get_it(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keycloak_distribution.shutil, "which", lambda name: None)
    with pytest.raises(keycloak_server.KeycloakError, match=r"Maven \(`mvn`\) is needed"):
        keycloak_server.fetch_distribution()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind((keycloak_server.HOST, 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_port_taken_by_something_else_is_a_clear_error(cache: Path, busy_port: int) -> None:
    with pytest.raises(keycloak_server.KeycloakError, match=f"port {busy_port} is in use"):
        keycloak_server.start(busy_port)


def test_an_edited_realm_file_drops_the_old_dev_database(cache: Path) -> None:
    home = cache / "kc"
    h2 = home / "data" / "h2"
    keycloak_server.prepare_realm_import(home)
    assert (home / "data" / "import" / keycloak_server.REALM_FILE.name).is_file()
    h2.mkdir(parents=True)
    keycloak_server.prepare_realm_import(home)
    assert h2.is_dir(), "an unchanged realm keeps the database (a warm start)"
    (home / "data" / "realm.sha256").write_text("an older realm file")
    keycloak_server.prepare_realm_import(home)
    assert not h2.exists()


def test_stop_without_a_started_server_is_a_no_op(cache: Path) -> None:
    assert keycloak_server.stop(1) is False


# --- With a real Keycloak -----------------------------------------------------------------------


def claims(token: str, realm: KeycloakRealm) -> dict:
    """Verify like a relying party: the realm's JWKS, issuer, expiry."""
    jwks = jwt.PyJWKClient(f"{realm.server.issuer}/protocol/openid-connect/certs")
    key = jwks.get_signing_key_from_jwt(token).key
    return jwt.decode(
        token, key, algorithms=["RS256"], issuer=realm.server.issuer, options={"verify_aud": False}
    )


@pytest.mark.integration
def test_student_gets_a_token_with_the_groups_claim(keycloak: KeycloakRealm) -> None:
    tokens = keycloak.tokens("student")
    access = claims(tokens["access_token"], keycloak)
    assert access["preferred_username"] == "student"
    assert access["groups"] == ["students"]
    identity = claims(tokens["id_token"], keycloak)
    assert identity["aud"] == keycloak.client_id
    assert identity["groups"] == ["students"]
    assert identity["email"] == "student@campus.example.edu"


@pytest.mark.integration
@pytest.mark.parametrize("username", sorted(EXPECTED_GROUPS))
def test_each_user_has_the_groups_of_the_realm_file(keycloak: KeycloakRealm, username: str) -> None:
    access = claims(keycloak.tokens(username)["access_token"], keycloak)
    assert set(access.get("groups", [])) == EXPECTED_GROUPS[username]


@pytest.mark.integration
def test_the_short_token_client_issues_ten_second_access_tokens(
    keycloak: KeycloakRealm,
) -> None:
    tokens = keycloak.tokens("gpu-student", keycloak.short_token_client_id)
    access = claims(tokens["access_token"], keycloak)
    assert access["exp"] - access["iat"] == 10
    assert tokens["refresh_token"]


@pytest.mark.integration
def test_a_wrong_password_is_refused(keycloak: KeycloakRealm) -> None:
    with pytest.raises(keycloak_server.KeycloakError, match="invalid_grant"):
        keycloak.server.password_grant(
            "student", "not-the-password", keycloak.client_id, keycloak.client_secret
        )


@pytest.mark.integration
def test_the_discovery_document_names_the_endpoints(keycloak: KeycloakRealm) -> None:
    started = time.monotonic()
    assert keycloak.server.health_url.endswith("/health/ready")
    assert keycloak_server.running(keycloak.server.port) == keycloak.server
    with urllib.request.urlopen(keycloak.server.well_known_url, timeout=10) as response:  # noqa: S310
        discovery = json.load(response)
    assert discovery["issuer"] == keycloak.server.issuer
    assert discovery["authorization_endpoint"] == keycloak.server.authorize_url
    assert discovery["token_endpoint"] == keycloak.server.token_url
    assert time.monotonic() - started < 10
