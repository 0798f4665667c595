"""The dev services chart's PostgreSQL (the rehearsal's hub database) and the Secret it reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_dev_env import rendered_services

from devenv import hub_secret
from tools.bootstrap.run import RunError

HUB_CHART_DEPLOYMENT = (
    Path(__file__).resolve().parents[2]
    / "helm"
    / "jupyterhub-k8s"
    / "templates"
    / "hub"
    / "deployment.yaml"
)
ENABLED = {
    "enabled": True,
    "image": "jupyterhub-k8s/postgresql:tag-postgresql",
    "passwordSecret": {"name": "jupyterhub-tokens", "key": "hub.db-password"},
}


def rendered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgresql: dict | None
) -> dict[tuple[str, str], dict[str, Any]]:
    overrides = {} if postgresql is None else {"postgresql": postgresql}
    return rendered_services(monkeypatch, tmp_path, **overrides)


def test_off_unless_enabled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for postgresql in (None, {"enabled": False}):
        names = {name for _, name in rendered(monkeypatch, tmp_path, postgresql)}
        assert "postgresql" not in names


def test_enabled_it_keeps_its_data_and_reads_its_password_from_the_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = rendered(monkeypatch, tmp_path, ENABLED)
    service = documents[("Service", "postgresql")]
    assert service["spec"]["ports"][0]["port"] == 5432
    statefulset = documents[("StatefulSet", "postgresql")]
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 999
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["image"] == ENABLED["image"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert set(env) == {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD_FILE"}
    assert env["POSTGRES_USER"] == env["POSTGRES_DB"] == "jupyterhub"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    secret_volume = next(volume for volume in pod["volumes"] if "secret" in volume)["secret"]
    assert secret_volume["secretName"] == "jupyterhub-tokens"
    assert secret_volume["items"] == [{"key": "hub.db-password", "path": "password"}]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert env["POSTGRES_PASSWORD_FILE"].startswith(
        next(path for path, name in mounts.items() if name == "password")
    )
    assert mounts["/var/lib/postgresql/data"] == claim["metadata"]["name"]
    # Nothing the chart renders is a Secret: the password is never a value.
    assert not [kind for kind, _ in documents if kind == "Secret"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": ""}, "/postgresql/image"),
        (
            {"passwordSecret": {"name": "", "key": "hub.db-password"}},
            "/postgresql/passwordSecret/name",
        ),
        ({"password": "s3cret"}, "password"),
        ({"database": "hub; DROP DATABASE postgres"}, "/postgresql/database"),
    ],
)
def test_mistakes_are_refused_before_anything_is_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, change: dict, message: str
) -> None:
    with pytest.raises(RunError) as refused:
        rendered(monkeypatch, tmp_path, {**ENABLED, **change})
    assert message in str(refused.value)


def test_the_secret_has_every_key_the_hub_chart_reads() -> None:
    read = set(re.findall(r"key: (hub\.[a-z.-]+|proxy\.token)", HUB_CHART_DEPLOYMENT.read_text()))
    made = hub_secret.manifest("jupyterhub-tokens")["stringData"]
    assert set(made) == read == set(hub_secret.KEYS)
    assert len(set(made.values())) == len(made)
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in made.values())
    assert hub_secret.manifest("x")["stringData"] != hub_secret.manifest("x")["stringData"]
