"""devenv.dev_env's pure parts: what it hands Kubernetes and the chart (no cluster needed)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from devenv import charts, cluster_config, dev_env
from hubconfig.config import lab_labels
from mock_moodle.config import from_dict
from tools.images import lock
from tools.images.lock import LockedImage


def locked(*names: str) -> dict[str, LockedImage]:
    repositories = {
        "hub": "jupyterhub-k8s/hub",
        "configurable-http-proxy": "jupyterhub-k8s/configurable-http-proxy",
        "lab-base": "jupyterhub-k8s/lab-base",
        "lab-nlp": "jupyterhub-k8s/lab-nlp",
        "lab-deeplearning": "jupyterhub-k8s/lab-deeplearning",
        "keycloak": "jupyterhub-k8s/keycloak",
        "mock-moodle": "jupyterhub-k8s/mock-moodle",
    }
    return {
        name: LockedImage(repositories[name], f"tag-{name}", "0" * 64, "sha256:0")
        for name in names or repositories
    }


def fake_digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def pushed(*names: str) -> dict[str, LockedImage]:
    """As `devenv.cluster.push_images` leaves them: each with its digest in the local registry."""
    return {
        name: replace(entry, digest=f"localhost:5001/{entry.repository}@{fake_digest(name)}")
        for name, entry in locked(*names).items()
    }


ENV = dev_env.current()


def rendered_services(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **overrides: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    """The dev services chart rendered with the pushed images and `overrides` of its values,
    by (kind, name)."""
    monkeypatch.setenv("JHK8S_CACHE_DIR", str(tmp_path))
    values = {**dev_env.services_values(ENV, pushed()), **overrides}
    documents = charts.render_documents(dev_env.SERVICES_CHART, values)
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


# The chart names its config-hash annotation; a changed ConfigMap must change it.
CONFIG_HASH_ANNOTATION = "jupyterhub-k8s.io/config-hash"


def test_public_urls_follow_ports_yaml() -> None:
    ports = cluster_config.read_host_ports()
    assert ENV.public_urls == {name: f"http://localhost:{p}" for name, p in ports.items()}


def test_realm_accepts_the_hub_callback_on_its_host_port() -> None:
    hub = ENV.hub_url
    for client in dev_env.realm_for_cluster(ENV)["clients"]:
        assert f"{hub}/*" in client["redirectUris"]


def test_chart_values_name_locked_images_and_the_mock_moodle_platform() -> None:
    values = dev_env.generated_values(ENV, locked())
    assert values["hub"]["image"] == {"name": "jupyterhub-k8s/hub", "tag": "tag-hub", "digest": ""}
    assert values["proxy"]["chp"]["image"]["tag"] == "tag-configurable-http-proxy"
    assert values["singleuser"]["image"]["tag"] == "tag-lab-base"
    assert values["singleuser"]["images"]["lab-nlp"]["tag"] == "tag-lab-nlp"
    assert "keycloak" not in json.dumps(values["hub"]["image"])
    (platform,) = values["hub"]["config"]["LTI13Login"]["platforms"]
    moodle = ENV.mock_moodle_url
    # Front channel on localhost (the issuer the browser and the id_token carry), keys in-cluster.
    assert platform["issuer"] == moodle
    assert platform["authorize_url"] == f"{moodle}/mod/lti/auth.php"
    assert platform["jwks_url"].startswith(dev_env.MOCK_MOODLE_SERVICE_URL)


def test_chart_values_name_pushed_images_by_their_digest_in_the_local_registry() -> None:
    values = dev_env.generated_values(ENV, pushed())
    assert values["hub"]["image"] == {
        "name": "localhost:5001/jupyterhub-k8s/hub",
        "tag": "tag-hub",
        "digest": fake_digest("hub"),
    }
    assert (
        values["singleuser"]["images"]["lab-nlp"]["name"] == "localhost:5001/jupyterhub-k8s/lab-nlp"
    )


def test_every_lab_image_of_the_dev_values_is_built_and_pushed() -> None:
    """A profile's image that the dev environment did not push would never start."""
    assert "lab-deeplearning" in dev_env.dev_lab_keys()
    assert dev_env.dev_lab_keys() <= set(dev_env.CLUSTER_IMAGES)
    values = dev_env.generated_values(ENV, pushed())
    assert values["singleuser"]["images"]["lab-deeplearning"] == {
        "name": "localhost:5001/jupyterhub-k8s/lab-deeplearning",
        "tag": "tag-lab-deeplearning",
        "digest": fake_digest("lab-deeplearning"),
    }


def test_user_servers_get_their_own_origin_under_the_hubs_host_port() -> None:
    """Not the hub's origin: a student's server must not serve script there (helm/README.md)."""
    jupyterhub = dev_env.generated_values(ENV, locked())["hub"]["config"]["JupyterHub"]
    port = cluster_config.read_host_ports()["hub"]
    assert jupyterhub["subdomain_host"] == f"http://localhost:{port}"
    assert f"http://<user>.localhost:{port}/user/<user>/" in dev_env.summary(ENV)


def test_mock_moodle_config_points_at_the_hub_and_has_the_extra_courses() -> None:
    config = dev_env.mock_moodle_config(ENV)
    hub = ENV.hub_url
    assert config["tool"]["lti11_launch_url"] == f"{hub}/hub/lti/launch"
    assert "nlp-101" in {course["context_id"] for course in config["courses"]}
    users = from_dict(config).users
    assert {"student", "s.dent", "learner-001", "learner-300"} <= set(users)


def config_hash(documents: dict, name: str) -> str:
    template = documents[("Deployment", name)]["spec"]["template"]
    return template["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]


def test_the_services_chart_gets_images_node_ports_and_a_config_hash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = rendered_services(monkeypatch, tmp_path)
    ports = cluster_config.read_host_ports()
    for name in ("keycloak", "mock-moodle"):
        service = documents[("Service", name)]
        assert service["spec"]["ports"][0]["nodePort"] == ports[name]
        template = documents[("Deployment", name)]["spec"]["template"]
        (container,) = template["spec"]["containers"]
        assert container["image"] == pushed()[name].digest
        assert len(config_hash(documents, name)) == 16
    urls = documents[("ConfigMap", "dev-urls")]["data"]
    assert urls["keycloak"] == ENV.keycloak_url
    realm = json.loads(documents[("ConfigMap", "keycloak-realm")]["data"]["campus-realm.json"])
    assert realm["realm"] == "campus"


def test_a_changed_realm_changes_the_config_hash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = config_hash(rendered_services(monkeypatch, tmp_path), "keycloak")
    realm = dev_env.realm_for_cluster(ENV)
    realm["displayName"] = "changed"
    monkeypatch.setattr(dev_env, "realm_for_cluster", lambda env: realm)
    assert config_hash(rendered_services(monkeypatch, tmp_path), "keycloak") != before


def test_missing_lock_entries_say_how_to_build_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "read", lambda: locked("hub"))
    with pytest.raises(dev_env.DevEnvError, match=r"python -m tools\.images build"):
        dev_env.locked_images()


def test_summary_lists_every_dev_account() -> None:
    text = dev_env.summary(ENV)
    assert len(ENV.accounts) >= 4
    for account in ENV.accounts.values():
        assert account.username in text and account.password in text


def test_down_stops_exactly_the_pods_the_hub_labels_as_user_servers() -> None:
    key, value = dev_env.USER_SERVER_SELECTOR.split("=")
    assert lab_labels(dev_env.RELEASE)[key] == value


def test_the_dev_course_folders_are_made_writable_in_the_shared_folder(tmp_path: Path) -> None:
    env = dev_env.DevEnvironment(cluster=replace(ENV.cluster, shared_dir=tmp_path))
    courses = dev_env.dev_values()["singleuser"]["storage"]["shared"]["courses"]
    folders = dev_env.create_course_folders(env)
    assert [folder.name for folder in folders] == [course["folder"] for course in courses]
    for folder in folders:
        assert folder.is_relative_to(tmp_path)
        assert folder.stat().st_mode & 0o777 == 0o777
