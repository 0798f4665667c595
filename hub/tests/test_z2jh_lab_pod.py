"""A campus's z2jh values (helm/tests/values/z2jh-campus.yaml) configure the labs as in z2jh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    DEPLOYMENT,
    FakeOrmSpawner,
    FakeUser,
    hub_user,
    offline_kubeconfig_fixture,
    values_with,
)
from traitlets.config import Config

from hubconfig import configure, values
from hubconfig.spawner import ProfileSpawner

CAMPUS = Path(__file__).resolve().parents[2] / "helm" / "tests" / "values" / "z2jh-campus.yaml"

pytestmark = pytest.mark.usefixtures("offline_kubeconfig")


@pytest.fixture
def campus_values() -> dict[str, Any]:
    return values_with(yaml.safe_load(CAMPUS.read_text()))


def configured(chart_values: dict[str, Any]) -> Config:
    c = Config()
    configure(c, chart_values, DEPLOYMENT)
    return c


def campus_spawner(chart_values: dict[str, Any], user: FakeUser) -> ProfileSpawner:
    """A spawner configured from the values alone (hub_fakes.make_spawner adds hub.config)."""
    spawner = ProfileSpawner(
        config=configured(chart_values), user=user, orm_spawner=FakeOrmSpawner(""), _mock=True
    )
    user.spawners[""] = spawner
    return spawner


async def gpu_lab_pod(campus_values: dict[str, Any]) -> Any:
    spawner = campus_spawner(campus_values, hub_user("grace", ["gpu"]))
    await spawner.check_and_apply({"profile": "nlp-environment"})
    await spawner.load_user_options()
    return await spawner.get_pod_manifest()


def test_the_campus_values_match_the_schema(campus_values: dict[str, Any]) -> None:
    assert values.describe_errors(campus_values) == []


async def test_the_lab_pod_has_the_campus_env_hooks_and_init_containers(
    campus_values: dict[str, Any],
) -> None:
    pod = await gpu_lab_pod(campus_values)
    (lab,) = pod.spec.containers
    env = {var.name: var for var in lab.env}
    assert env["COURSE_PLATFORM"].value == "moodle"
    assert env["LAB_NAMESPACE"].value_from == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert lab.lifecycle.post_start == {
        "exec": {"command": ["sh", "-c", "echo course material ready > /tmp/campus-post-start"]}
    }
    (init,) = pod.spec.init_containers
    assert init.name == "campus-init"
    assert init.command == ["sh", "-c", "echo campus init done"]
    assert lab.args == ["jupyterhub-singleuser"]


async def test_the_seed_gpu_profile_gets_its_image_gpu_and_gpu_scheduling(
    campus_values: dict[str, Any],
) -> None:
    pod = await gpu_lab_pod(campus_values)
    (lab,) = pod.spec.containers
    assert lab.image == "ghcr.io/fhswf/jupyterhub-k8s/jupyter_nlp:sha-cdbfbd0"
    assert lab.resources.limits["nvidia.com/gpu"] == "1"
    # singleuser.cpu and .memory are every profile's defaults; 2G is KubeSpawner's 2 GiB.
    assert lab.resources.limits["cpu"] == 2
    assert lab.resources.limits["memory"] == 2 * 1024**3
    assert lab.resources.requests["memory"] == 256 * 1024**2
    # The campus's own node selector and toleration, plus the GPU nodes'.
    assert pod.spec.node_selector == {
        "campus.example.edu/pool": "labs",
        "nvidia.com/gpu.present": "true",
    }
    tolerations = [toleration.to_dict() for toleration in pod.spec.tolerations]
    keys = {(toleration["key"], toleration["effect"]) for toleration in tolerations}
    assert {("campus.example.edu/labs", "NoSchedule"), ("nvidia.com/gpu", "NoSchedule")} <= keys
    assert "dshm" in {volume.name for volume in pod.spec.volumes}


async def test_labels_annotations_and_the_non_root_pod(campus_values: dict[str, Any]) -> None:
    pod = await gpu_lab_pod(campus_values)
    assert pod.metadata.labels["campus.example.edu/cost-centre"] == "teaching"
    assert pod.metadata.labels["app.kubernetes.io/component"] == "singleuser-server"
    assert pod.metadata.annotations["campus.example.edu/owner"] == "platform-team"
    # Init and extra containers run as the lab's user: the pod's security context says so.
    assert pod.spec.security_context["runAsUser"] == 1000
    assert pod.spec.security_context["runAsNonRoot"] is True


async def test_a_profile_option_choice_sets_memory_in_kubernetes_units(
    campus_values: dict[str, Any],
) -> None:
    spawner = campus_spawner(campus_values, hub_user("stu", []))
    await spawner.check_and_apply({"profile": "python-environment", "memory": "large"})
    assert spawner.mem_limit == 4 * 1024**3
    await spawner.load_user_options()
    await spawner.check_and_apply({"profile": "python-environment"})
    assert spawner.mem_limit == 1024**3
    # A CPU profile: no GPU, and the GPU nodes' selector is gone again.
    assert spawner.extra_resource_limits == {}
    assert spawner.gpus_held == 0


def test_extra_config_runs_in_name_order_with_get_config(campus_values: dict[str, Any]) -> None:
    campus_values["custom"]["announcement"] = "Maintenance on Friday"
    c = configured(campus_values)
    assert c.JupyterHub.template_vars == {
        "campus": "Example University",
        "announcement": "Maintenance on Friday",
    }


def test_extra_config_runs_after_hub_config(campus_values: dict[str, Any]) -> None:
    campus_values["hub"]["config"]["JupyterHub"]["template_vars"] = {"from": "hub.config"}
    campus_values["hub"]["extraConfig"]["20-last.py"] = (
        "c.JupyterHub.template_vars['seen'] = dict(c.JupyterHub.template_vars)\n"
    )
    assert configured(campus_values).JupyterHub.template_vars["seen"] == {
        "campus": "Example University",
        "announcement": "",
    }


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("x = 1\nc.JupyterHub.nope = get_config('custom.missing').upper()\n", "line 2: Attrib"),
        ("def broken(:\n", "line 1: SyntaxError"),
    ],
)
def test_a_failing_snippet_names_itself(
    campus_values: dict[str, Any], snippet: str, expected: str
) -> None:
    campus_values["hub"]["extraConfig"]["50-broken.py"] = snippet
    with pytest.raises(values.ValuesError) as failed:
        configured(campus_values)
    assert str(failed.value).startswith(f"hub.extraConfig.50-broken.py: {expected}")


def test_debug_logs_the_hub_and_the_labs(campus_values: dict[str, Any]) -> None:
    c = configured(campus_values)
    assert c.Application.log_level == "DEBUG"
    assert c.Spawner.debug is True
    campus_values["debug"]["enabled"] = False
    c = configured(campus_values)
    assert c.Application.log_level == "INFO"
    assert "debug" not in c.Spawner


def test_extra_env_in_the_list_form(campus_values: dict[str, Any]) -> None:
    campus_values["singleuser"]["extraEnv"] = [
        {"name": "A", "value": "1"},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    assert configured(campus_values).ProfileSpawner.environment == {
        "A": {"name": "A", "value": "1"},
        "B": {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    }


async def test_cmd_null_runs_the_images_command(campus_values: dict[str, Any]) -> None:
    # Helm drops a null, so z2jh's `cmd: null` arrives as no cmd at all.
    del campus_values["singleuser"]["cmd"]
    pod = await gpu_lab_pod(campus_values)
    assert pod.spec.containers[0].args is None


async def test_a_profile_adds_to_the_campus_environment_and_resources(
    campus_values: dict[str, Any],
) -> None:
    singleuser = campus_values["singleuser"]
    singleuser["extraResource"] = {
        "limits": {"example.com/fpga": "1"},
        "guarantees": {"ephemeral-storage": "1Gi"},
    }
    singleuser["extraContainers"] = [{"name": "sidecar", "image": "example/sidecar:1"}]
    seed = singleuser["profileList"][1]["kubespawner_override"]
    seed["environment"] = {"HF_HOME": "/srv/shared/huggingface"}
    pod = await gpu_lab_pod(campus_values)
    lab, sidecar = pod.spec.containers
    env = {var.name: var.value for var in lab.env}
    assert (env["HF_HOME"], env["COURSE_PLATFORM"]) == ("/srv/shared/huggingface", "moodle")
    assert lab.resources.limits["example.com/fpga"] == "1"
    assert lab.resources.limits["nvidia.com/gpu"] == "1"
    assert lab.resources.requests["ephemeral-storage"] == "1Gi"
    assert sidecar.name == "sidecar"


async def test_the_form_offers_the_choices_and_its_answer_is_checked(
    campus_values: dict[str, Any],
) -> None:
    spawner = campus_spawner(campus_values, hub_user("stu", []))
    form = await spawner.get_options_form()
    assert 'name="profile-option-python-environment--memory"' in form
    assert 'value="large"' in form
    # What the browser posts, through KubeSpawner's own form parser.
    options = spawner.options_from_form(
        {"profile": ["python-environment"], "profile-option-python-environment--memory": ["large"]}
    )
    await spawner.check_and_apply(options)
    assert spawner.mem_limit == 4 * 1024**3
