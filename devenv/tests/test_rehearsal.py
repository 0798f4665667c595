"""The rehearsal's shape without a cluster: its releases, URLs, routes and values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from test_dev_env import pushed

from devenv import charts, dev_env, tls
from devenv.rehearsal import environment, releases, steps
from tools.bootstrap.paths import REPO_ROOT
from tools.images.lock import LockedImage
from tools.release import version

ENV = environment.current()
CHART = REPO_ROOT / "helm" / "jupyterhub-k8s"


def test_the_recorded_previous_release_is_a_version_and_a_commit_of_this_repo() -> None:
    previous = releases.recorded_previous()
    assert version.parse(previous.version) == previous.version
    assert releases.run(["git", "-C", REPO_ROOT, "cat-file", "-t", previous.commit]).strip() == (
        "commit"
    )


@pytest.mark.parametrize(
    "text",
    [
        'version = "0.1.0"\ncommit = "HEAD"\n',
        'version = "v0.1.0"\ncommit = "' + "a" * 40 + '"\n',
        'version = "0.1.0"\n',
        "not toml",
    ],
)
def test_a_malformed_previous_release_is_refused(text: str, tmp_path: Path) -> None:
    path = tmp_path / "previous-release.toml"
    path.write_text(text)
    with pytest.raises(releases.RehearsalReleaseError, match=str(path)):
        releases.recorded_previous(path)


def test_the_working_tree_is_released_as_a_prerelease_naming_its_commit() -> None:
    name = releases.working_tree_version()
    commit = releases.run(["git", "-C", REPO_ROOT, "rev-parse", "--short=12", "HEAD"]).strip()
    assert name.startswith(f"0.1.0-rehearsal.g{commit}")
    assert version.parse(name) == name


def test_the_sites_are_https_on_port_443_routed_to_the_rehearsals_node_ports() -> None:
    assert ENV.hub_url == "https://hub.campus.test"
    assert ENV.keycloak_url == "https://login.campus.test"
    assert ENV.mock_moodle_url == "https://moodle.school.test"
    ports = ENV.cluster.host_ports
    routes = {(route.name, route.port): route.target_port for route in ENV.routes}
    assert routes == {
        ("hub.campus.test", 443): ports["rehearsal-hub"],
        ("*.hub.campus.test", 443): ports["rehearsal-hub"],
        ("login.campus.test", 443): ports["rehearsal-keycloak"],
        ("moodle.school.test", 443): ports["rehearsal-moodle"],
    }
    assert ENV.namespace != dev_env.current().namespace
    assert set(ENV.releases).isdisjoint(dev_env.current().releases)


def test_the_hubs_calls_inside_the_cluster_go_to_names_the_certificates_carry() -> None:
    for url, site in ((environment.KEYCLOAK_SERVICE_URL, "login"),
                      (ENV.mock_moodle_service_url, "moodle")):  # fmt: skip
        host = url.removeprefix("https://").split(":")[0]
        assert host in tls.SITES[site]


def test_the_dev_values_lose_what_a_release_sets_and_keep_the_stories_settings() -> None:
    values = steps.dev_values_for_a_release(REPO_ROOT, releases.working_tree_lab_keys())
    assert "image" not in values["hub"] and "db" not in values["hub"]
    assert "image" not in values["singleuser"] and "images" not in values["singleuser"]
    assert "service" not in values["proxy"]
    # The release holds every lab image the dev profiles start: no profile is left out.
    assert values["singleuser"]["profileList"] == dev_env.dev_values()["singleuser"]["profileList"]
    assert "image" in dev_env.dev_values()["hub"], "the dev values themselves are untouched"


def test_the_working_tree_release_holds_the_default_images_and_the_dev_labs() -> None:
    held = releases.working_tree_images()
    assert {"hub", "configurable-http-proxy", "lab-base", "lab-nlp"} <= set(held)
    assert "lab-deeplearning" in held, "the Deep learning lab of the dev profiles"
    assert "lab-deeplearning-cu12" not in held, "no dev profile starts it"
    assert not {"keycloak", "mock-moodle", "postgresql", "fake-gpu-plugin"} & set(held)
    assert releases.working_tree_lab_keys() == dev_env.dev_lab_keys()


def test_a_release_gets_the_dev_values_of_the_tree_it_was_released_from(tmp_path: Path) -> None:
    previous = tmp_path / "clone-previous"
    (previous / steps.DEV_VALUES).parent.mkdir(parents=True)
    (previous / steps.SERVICES_VALUES).parent.mkdir(parents=True)
    old_profiles = [{"slug": "old", "displayName": "Old lab"}]
    (previous / steps.DEV_VALUES).write_text(
        yaml.safe_dump(
            {"hub": {"image": {"name": "x"}}, "singleuser": {"profileList": old_profiles}}
        )
    )
    (previous / steps.SERVICES_VALUES).write_text("{}\n")

    previous_files = steps.values_files(ENV, previous, set())[1::2]
    current_files = steps.values_files(ENV, REPO_ROOT, releases.working_tree_lab_keys())[1::2]

    previous_dev = yaml.safe_load(Path(previous_files[0]).read_text())
    assert previous_dev == {"hub": {}, "singleuser": {"profileList": old_profiles}}
    assert previous_files[1] == str(previous / steps.SERVICES_VALUES)
    current_dev = yaml.safe_load(Path(current_files[0]).read_text())
    assert current_dev == steps.dev_values_for_a_release(
        REPO_ROOT, releases.working_tree_lab_keys()
    )
    assert current_files[1] == str(dev_env.SERVICES_VALUES)
    assert previous_files[2] == current_files[2] == str(steps.VALUES), "one production shape"


def test_a_release_keeps_only_the_profiles_of_the_lab_images_it_holds(tmp_path: Path) -> None:
    (tmp_path / steps.DEV_VALUES).parent.mkdir(parents=True)
    profiles = [
        {"slug": "plain"},
        {"slug": "base", "image": "base"},
        {"slug": "nlp", "image": "nlp"},
    ]
    (tmp_path / steps.DEV_VALUES).write_text(
        yaml.safe_dump({"singleuser": {"profileList": profiles}})
    )
    kept = steps.dev_values_for_a_release(tmp_path, {"base"})["singleuser"]["profileList"]
    assert [profile["slug"] for profile in kept] == ["plain", "base"]


def test_the_hub_chart_renders_production_shaped_with_the_rehearsal_values(tmp_path: Path) -> None:
    released_images = tmp_path / "released-images.yaml"
    released_images.write_text(
        yaml.safe_dump(
            {"singleuser": {"images": {k: {"name": "x"} for k in releases.working_tree_lab_keys()}}}
        )
    )
    rendered = charts.run(
        [charts.binaries.ensure("helm"), "template", steps.HUB_RELEASE, CHART,
         "--values", released_images,
         *steps.values_files(ENV, REPO_ROOT, releases.working_tree_lab_keys())]
    )  # fmt: skip
    documents = [document for document in yaml.safe_load_all(rendered) if document]
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    hub = kinds[("Deployment", "jupyterhub-jupyterhub-k8s-hub")]["spec"]["template"]["spec"]
    env = {item["name"]: item for item in hub["containers"][0]["env"]}
    assert env["SSL_CERT_FILE"]["value"] == "/etc/campus-ca/ca.crt"
    assert (
        env["JUPYTERHUB_K8S_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == steps.HUB_SECRET
    )
    public = kinds[("Service", "jupyterhub-jupyterhub-k8s-proxy-public")]["spec"]["ports"]
    assert {port["name"]: port["nodePort"] for port in public} == {
        "https": ENV.hub_node_ports[0],
        "http": ENV.hub_node_ports[1],
    }


def test_the_services_serve_https_and_postgresql_with_the_hubs_secret() -> None:
    values = steps.services_values(ENV, {**pushed(), **pushed_postgresql()})
    assert values["tlsSecrets"] == {"keycloak": "login-tls", "mockMoodle": "moodle-tls"}
    assert values["postgresql"]["passwordSecret"]["name"] == steps.HUB_SECRET
    assert values["urls"]["keycloak"] == "https://login.campus.test"
    charts.render(dev_env.SERVICES_CHART, values)


def pushed_postgresql() -> dict[str, LockedImage]:
    entry = LockedImage("jupyterhub-k8s/postgresql", "tag-postgresql", "0" * 64, "sha256:0")
    return {
        "postgresql": replace(
            entry, digest="localhost:5001/jupyterhub-k8s/postgresql@sha256:" + "1" * 64
        )
    }
