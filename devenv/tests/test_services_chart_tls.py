"""The dev services chart over HTTPS (tlsSecrets), as the production rehearsal installs it; and
unchanged plain HTTP without, as the dev environment installs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_dev_env import rendered_services

from tools.bootstrap.run import RunError

SECRETS = {"keycloak": "login-campus-test-tls", "mockMoodle": "moodle-school-test-tls"}


def rendered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tls_secrets: dict | None
) -> dict[tuple[str, str], dict[str, Any]]:
    overrides = {} if tls_secrets is None else {"tlsSecrets": tls_secrets}
    return rendered_services(monkeypatch, tmp_path, **overrides)


def container(documents: dict, name: str) -> dict[str, Any]:
    return documents[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]


def volumes(documents: dict, name: str) -> dict[str, Any]:
    pod = documents[("Deployment", name)]["spec"]["template"]["spec"]
    return {volume["name"]: volume for volume in pod["volumes"]}


def test_keycloak_serves_the_secrets_certificate_on_https_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = rendered(monkeypatch, tmp_path, SECRETS)
    keycloak = container(documents, "keycloak")
    env = {item["name"]: item.get("value") for item in keycloak["env"]}
    assert env["KC_HTTP_ENABLED"] == "false"
    assert env["KC_HTTPS_CERTIFICATE_FILE"] == "/etc/keycloak/tls/tls.crt"
    assert env["KC_HTTPS_CERTIFICATE_KEY_FILE"] == "/etc/keycloak/tls/tls.key"
    mounts = {mount["name"]: mount["mountPath"] for mount in keycloak["volumeMounts"]}
    assert mounts["tls"] == "/etc/keycloak/tls"
    assert volumes(documents, "keycloak")["tls"]["secret"]["secretName"] == SECRETS["keycloak"]
    assert keycloak["ports"][0] == {"name": "https", "containerPort": 8443}
    # The kubelet's health checks stay on the management port, in plain HTTP.
    assert keycloak["readinessProbe"]["httpGet"]["port"] == "management"
    assert env["KC_HTTP_MANAGEMENT_SCHEME"] == "http"
    (port,) = documents[("Service", "keycloak")]["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"]) == ("https", 443, "https")


def test_the_mock_moodle_serves_the_secrets_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = rendered(monkeypatch, tmp_path, SECRETS)
    moodle = container(documents, "mock-moodle")
    args = moodle["args"]
    assert args[args.index("--tls-cert") + 1] == "/etc/mock-moodle-tls/tls.crt"
    assert args[args.index("--tls-key") + 1] == "/etc/mock-moodle-tls/tls.key"
    assert (
        volumes(documents, "mock-moodle")["tls"]["secret"]["secretName"] == (SECRETS["mockMoodle"])
    )
    probe = moodle["readinessProbe"]["httpGet"]
    assert (probe["port"], probe["scheme"]) == ("https", "HTTPS")


def test_without_secrets_both_stay_plain_http(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = rendered(monkeypatch, tmp_path, None)
    keycloak = container(documents, "keycloak")
    assert "KC_HTTP_ENABLED" not in {item["name"] for item in keycloak["env"]}
    assert keycloak["ports"][0] == {"name": "http", "containerPort": 8080}
    assert "tls" not in volumes(documents, "keycloak")
    moodle = container(documents, "mock-moodle")
    assert "--tls-cert" not in moodle["args"]
    assert moodle["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
    (port,) = documents[("Service", "keycloak")]["spec"]["ports"]
    assert (port["name"], port["port"]) == ("http", 8080)


def test_a_bad_secret_name_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(RunError, match="tlsSecrets/keycloak"):
        rendered(monkeypatch, tmp_path, {"keycloak": "Bad Name"})
