"""Chart values -> JupyterHub, proxy, spawner, storage and culler configuration."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import yaml
from hub_fakes import (
    DEPLOYMENT,
    chart_values_fixture,  # noqa: F401 - pytest fixtures, used by name
    hub_environment,
    values_with,
)
from traitlets.config import Config, PyFileConfigLoader

from hubconfig import configure, configure_from_environment
from hubconfig.config import Deployment, database_url
from hubconfig.gpu_quota import GpuQuota
from hubconfig.spawner import ProfileSpawner
from hubconfig.start_queue import StartQueue
from hubconfig.values import ValuesError

DEPLOYMENT_WITH_METRICS_TOKEN = dataclasses.replace(DEPLOYMENT, metrics_token="cd" * 32)


def configured(chart_values: dict, deployment: Deployment = DEPLOYMENT) -> Config:
    c = Config()
    configure(c, chart_values, deployment)
    return c


def test_hub_talks_to_the_charts_services(chart_values: dict) -> None:
    c = configured(chart_values)
    assert c.JupyterHub.spawner_class is ProfileSpawner
    assert c.JupyterHub.hub_bind_url == "http://:8081"
    assert c.JupyterHub.hub_connect_url == "http://jh-hub:8081"
    assert c.ConfigurableHTTPProxy.should_start is False
    assert c.ConfigurableHTTPProxy.api_url == "http://jh-proxy-api:8001"
    assert c.JupyterHub.cleanup_servers is False
    assert c.JupyterHub.db_url == "sqlite:///jupyterhub.sqlite"
    assert (c.JupyterHub.allow_named_servers, c.JupyterHub.named_server_limit_per_user) == (
        True,
        3,
    )


def test_the_hubs_spawn_limits_take_z2jhs_keys(chart_values: dict) -> None:
    chart_values["hub"].update(
        concurrentSpawnLimit=40, consecutiveFailureLimit=7, activeServerLimit=250
    )
    c = configured(chart_values)
    assert (c.JupyterHub.concurrent_spawn_limit, c.JupyterHub.active_server_limit) == (40, 250)
    assert c.Spawner.consecutive_failure_limit == 7


def test_concurrent_starts_make_one_line_for_the_hub_and_0_makes_none(chart_values: dict) -> None:
    chart_values["hub"]["concurrentStarts"] = 3
    line = configured(chart_values).ProfileSpawner.start_queue
    assert isinstance(line, StartQueue)
    assert line.slots == 3
    chart_values["hub"]["concurrentStarts"] = 0
    assert configured(chart_values).ProfileSpawner.start_queue is None


def test_spawner_gets_the_singleuser_values(chart_values: dict) -> None:
    spawner = configured(chart_values).ProfileSpawner
    singleuser = chart_values["singleuser"]
    assert [profile.slug for profile in spawner.profile_catalogue.profiles] == [
        entry["slug"] for entry in singleuser["profileList"]
    ]
    assert spawner.profile_catalogue.course_profiles == singleuser["courseProfiles"]
    assert spawner.gpu_quota == GpuQuota(per_user=2, per_group={"gpu": 3})
    assert spawner.skip_form_for_courses is True
    assert spawner.namespace == "teaching"
    assert spawner.image == "jupyterhub-k8s/lab-base:latest"
    assert (spawner.start_timeout, spawner.http_timeout) == (300, 120)
    assert spawner.unschedulable_timeout == 15
    assert spawner.common_labels["app.kubernetes.io/instance"] == "jh"
    assert spawner.common_labels["app.kubernetes.io/component"] == "singleuser-server"


def test_home_is_one_claim_per_user_that_outlives_the_user(chart_values: dict) -> None:
    spawner = configured(chart_values).ProfileSpawner
    assert spawner.storage_pvc_ensure is True
    assert spawner.storage_capacity == "10Gi"
    assert spawner.storage_class is None
    assert spawner.storage_access_modes == ["ReadWriteOnce"]
    assert spawner.pvc_name_template == "claim-{unescaped_username}"
    assert spawner.delete_pvc is False
    assert spawner.volumes == [
        {"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
    ]
    assert spawner.volume_mounts == [{"name": "home", "mountPath": "/home/jovyan"}]


def test_dynamic_homes_take_z2jhs_keys(chart_values: dict) -> None:
    chart_values["singleuser"]["storage"].update(
        capacity="5Gi",
        extraLabels={"backup": "nightly"},
        dynamic={
            "storageClass": "cephfs",
            "pvcNameTemplate": "claim-{unescaped_username}--{servername}",
            "volumeNameTemplate": "volume-home",
            "storageAccessModes": ["ReadWriteMany"],
        },
    )
    spawner = configured(chart_values).ProfileSpawner
    assert (spawner.storage_capacity, spawner.storage_class) == ("5Gi", "cephfs")
    assert spawner.storage_access_modes == ["ReadWriteMany"]
    assert spawner.pvc_name_template == "claim-{unescaped_username}--{servername}"
    assert spawner.storage_extra_labels == {"backup": "nightly"}
    assert spawner.volumes == [
        {"name": "volume-home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
    ]
    assert spawner.volume_mounts == [{"name": "volume-home", "mountPath": "/home/jovyan"}]


def test_static_homes_are_a_folder_per_user_in_one_claim(chart_values: dict) -> None:
    chart_values["singleuser"]["storage"].update(
        type="static", static={"pvcName": "homes", "subPath": "home/{unescaped_username}"}
    )
    spawner = configured(chart_values).ProfileSpawner
    assert spawner.storage_pvc_ensure is False
    assert spawner.volumes == [{"name": "home", "persistentVolumeClaim": {"claimName": "homes"}}]
    assert spawner.volume_mounts == [
        {"name": "home", "mountPath": "/home/jovyan", "subPath": "home/{unescaped_username}"}
    ]


def test_extra_volumes_follow_the_home(chart_values: dict) -> None:
    data = {"name": "datasets", "persistentVolumeClaim": {"claimName": "datasets"}}
    mount = {"name": "datasets", "mountPath": "/srv/data", "readOnly": True}
    chart_values["singleuser"]["storage"].update(extraVolumes=[data], extraVolumeMounts=[mount])
    spawner = configured(chart_values).ProfileSpawner
    assert [volume["name"] for volume in spawner.volumes] == ["home", "datasets"]
    assert spawner.volume_mounts[1] == mount


def test_an_extra_volume_named_like_the_home_is_refused(chart_values: dict) -> None:
    chart_values["singleuser"]["storage"]["extraVolumes"] = [{"name": "home", "emptyDir": {}}]
    with pytest.raises(ValuesError, match=r"volume name\(s\) home are already used"):
        configured(chart_values)


def test_no_storage(chart_values: dict) -> None:
    chart_values["singleuser"]["storage"]["type"] = "none"
    spawner = configured(chart_values).ProfileSpawner
    assert spawner.storage_pvc_ensure is False
    # KubeSpawner would otherwise delete a claim with the user, which the hub may not do.
    assert spawner.delete_pvc is False
    assert spawner.volumes == []
    assert spawner.course_folders is None


def test_idle_culler_runs_as_a_service_with_least_privilege(chart_values: dict) -> None:
    chart_values["cull"].update(timeout=1800, every=120, maxAge=86400)
    c = configured(chart_values)
    (service,) = c.JupyterHub.services
    assert service["name"] == "idle-culler"
    assert service["command"][:4] == [
        sys.executable,
        "-m",
        "jupyterhub_idle_culler",
        "--url=http://localhost:8081/hub/api",
    ]
    assert "--timeout=1800" in service["command"]
    assert "--cull-every=120" in service["command"]
    assert "--max-age=86400" in service["command"]
    assert "--cull-users=False" in service["command"]
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == ["idle-culler"]
    assert "admin:users" not in role["scopes"]
    assert "delete:servers" in role["scopes"]


def test_culler_reaches_the_hub_under_its_base_url(chart_values: dict) -> None:
    chart_values["hub"]["baseUrl"] = "/jupyter/"
    (service,) = configured(chart_values).JupyterHub.services
    assert "--url=http://localhost:8081/jupyter/hub/api" in service["command"]


def test_culler_deleting_users_may_administer_users(chart_values: dict) -> None:
    chart_values["cull"]["users"] = True
    (role,) = configured(chart_values).JupyterHub.load_roles
    assert "admin:users" in role["scopes"]


def test_culler_disabled(chart_values: dict) -> None:
    chart_values["cull"]["enabled"] = False
    c = configured(chart_values)
    assert "services" not in c.JupyterHub
    assert "load_roles" not in c.JupyterHub


def test_hub_config_passthrough_is_applied_last(chart_values: dict) -> None:
    chart_values["hub"]["config"] = {
        "JupyterHub": {"allow_named_servers": False},
        "KeycloakLogin": {"realm": "campus"},
    }
    c = configured(chart_values)
    assert c.JupyterHub.allow_named_servers is False
    assert c.KeycloakLogin.realm == "campus"


def test_external_database_gets_its_password_from_the_secret() -> None:
    db = {"type": "external", "url": "postgresql+psycopg://hub@db.example.edu/hub"}
    assert database_url(db, "s3cr:t") == "postgresql+psycopg://hub:s3cr%3At@db.example.edu/hub"
    assert database_url({"type": "sqlite-memory"}, None) == "sqlite://"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://hub:in-values@db.example.edu/hub",
        "postgresql+psycopg://hub@db.example.edu/hub?password=in-values",
    ],
)
def test_a_password_in_the_values_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"hub\.db\.url carries a password") as refused:
        database_url({"type": "external", "url": url}, "from-the-secret")
    assert "in-values" not in str(refused.value)


def test_the_database_url_comes_only_from_hub_db(chart_values: dict) -> None:
    url = "postgresql+psycopg://hub:in-values@db.example.edu/hub"
    chart_values["hub"]["config"]["JupyterHub"]["db_url"] = url
    with pytest.raises(ValueError, match=r"hub\.config\.JupyterHub\.db_url") as refused:
        configured(chart_values)
    assert "in-values" not in str(refused.value)


def test_environment_names_what_is_missing() -> None:
    with pytest.raises(ValueError, match="lacks JUPYTERHUB_K8S_RELEASE, POD_NAMESPACE"):
        Deployment.from_environ({"JUPYTERHUB_K8S_VALUES": "/v.yaml"})


def test_configure_from_environment_reads_the_mounted_values(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values_with()))
    c = Config()
    configure_from_environment(c, hub_environment(path))
    assert c.ProfileSpawner.namespace == "teaching"
    assert c.JupyterHub.authenticator_class == "multilogin.MultiLoginAuthenticator"


def test_the_metrics_scrapers_token_from_the_environment_reads_metrics_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values_with({"cull": {"enabled": False}})))
    token = "ab" * 32
    c = Config()
    configure_from_environment(c, {**hub_environment(path), "JUPYTERHUB_K8S_METRICS_TOKEN": token})
    assert c.JupyterHub.authenticate_prometheus is True
    assert c.JupyterHub.services == [{"name": "metrics-scraper", "api_token": token}]
    assert c.JupyterHub.load_roles == [
        {"name": "metrics-scraper", "scopes": ["read:metrics"], "services": ["metrics-scraper"]}
    ]


def test_open_metrics_register_no_scraper(chart_values: dict) -> None:
    chart_values["hub"]["authenticatePrometheus"] = False
    chart_values["cull"]["enabled"] = False
    c = configured(chart_values, DEPLOYMENT_WITH_METRICS_TOKEN)
    assert c.JupyterHub.authenticate_prometheus is False
    assert "services" not in c.JupyterHub


def test_bad_mounted_values_stop_the_hub_with_a_readable_message(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values_with({"singleuser": {"gpuQuota": {"perUser": -1}}})))
    with pytest.raises(SystemExit) as stopped:
        configure_from_environment(Config(), hub_environment(path))
    message = str(stopped.value)
    assert message.startswith("jupyterhub-k8s: ")
    assert "singleuser.gpuQuota.perUser: -1 is less than the minimum of 0" in message


def test_charts_jupyterhub_config_calls_into_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = (
        Path(__file__).resolve().parents[2] / "helm/jupyterhub-k8s/files/jupyterhub_config.py"
    )
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values_with()))
    for name, value in hub_environment(path).items():
        monkeypatch.setenv(name, value)
    loader = PyFileConfigLoader(config_file.name, str(config_file.parent))
    c = loader.load_config()
    assert c.JupyterHub.spawner_class is ProfileSpawner
    assert c.ProfileSpawner.namespace == "teaching"


def test_extra_services_and_roles_join_the_cullers(chart_values: dict) -> None:
    chart_values["hub"]["services"] = {"grader": {"apiToken": "ab" * 16, "admin": False}}
    role = {"scopes": ["read:users"], "services": ["grader"]}
    chart_values["hub"]["loadRoles"] = {"grader": role}
    c = configured(chart_values)
    assert [service["name"] for service in c.JupyterHub.services] == ["idle-culler", "grader"]
    assert c.JupyterHub.services[1] == {"name": "grader", "api_token": "ab" * 16, "admin": False}
    assert [role["name"] for role in c.JupyterHub.load_roles] == ["idle-culler", "grader"]
    assert c.JupyterHub.load_roles[1]["scopes"] == ["read:users"]
