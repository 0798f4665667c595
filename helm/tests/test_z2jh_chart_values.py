"""z2jh values with z2jh's meaning: a campus's values render, and z2jh keys this chart does not
implement are refused with the reason helm/README.md gives ("Coming from zero-to-jupyterhub")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import CHART, HELM_DIR, find, render, render_error, secret_text

from hubconfig.values import describe_errors

CAMPUS = Path(__file__).resolve().parent / "values" / "z2jh-campus.yaml"
README = HELM_DIR / "README.md"
HUB = "jh-jupyterhub-k8s-hub"


def refused_rows() -> list[tuple[str, str]]:
    """(key, reason) of each row of the README's table of refused z2jh keys."""
    section = README.read_text().split("**Refused z2jh keys.**", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, flags=re.MULTILINE)


def nested(dotted: str, value: Any) -> dict[str, Any]:
    for key in reversed(dotted.split(".")):
        value = {key: value}
    return value


def values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def hub_values(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(secret_text(find(manifests, "Secret", f"{HUB}-config"), "values.yaml"))


def hub_env(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    deployment = find(manifests, "Deployment", HUB)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container["env"]


def test_the_campus_values_reach_the_hub() -> None:
    manifests = render(CAMPUS)
    values = hub_values(manifests)
    singleuser = values["singleuser"]
    assert singleuser["extraEnv"]["COURSE_PLATFORM"] == "moodle"
    assert singleuser["initContainers"][0]["name"] == "campus-init"
    assert "postStart" in singleuser["lifecycleHooks"]
    assert singleuser["memory"] == {"limit": "2G", "guarantee": "256Mi"}
    seed = singleuser["profileList"][1]
    assert seed["kubespawner_override"]["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert sorted(values["hub"]["extraConfig"]) == ["00-campus.py", "10-announcement.py"]
    assert values["debug"] == {"enabled": True}
    assert values["custom"] == {"campusName": "Example University"}
    assert {"name": "CAMPUS_NAME", "value": "Example University"} in hub_env(manifests)


def test_hub_extra_env_in_each_z2jh_notation(tmp_path: Path) -> None:
    secret_ref = {"secretKeyRef": {"name": "keycloak", "key": "client-secret"}}
    path = values_file(
        tmp_path,
        {
            "hub": {
                "extraEnv": {
                    "BASIC": "literal",
                    "IMPLICIT": {"value": "implied name"},
                    "FROM_SECRET": {"valueFrom": secret_ref},
                    "KEY": {"name": "EXPLICIT", "value": "the name field wins"},
                }
            }
        },
    )
    env = hub_env(render(path))
    assert {"name": "BASIC", "value": "literal"} in env
    assert {"name": "IMPLICIT", "value": "implied name"} in env
    assert {"name": "FROM_SECRET", "valueFrom": secret_ref} in env
    assert {"name": "EXPLICIT", "value": "the name field wins"} in env
    assert not [var for var in env if var["name"] == "KEY"]


def test_the_readme_lists_the_refused_keys_the_schema_refuses() -> None:
    documented = {key for key, _ in refused_rows()}
    schema = (CHART / "values.schema.json").read_text()
    in_schema = set(re.findall(r"not set: (\S+) is a z2jh key this chart does not support", schema))
    assert documented == in_schema


@pytest.mark.parametrize(("key", "reason"), refused_rows())
def test_a_z2jh_key_this_chart_does_not_support_is_refused_with_the_reason(
    tmp_path: Path, key: str, reason: str
) -> None:
    values = nested(key, {"enabled": False})
    message = render_error(values_file(tmp_path, values))
    assert f"{key} is a z2jh key this chart does not support; {reason}" in message
    # The hub validates against the same schema, with the same message.
    assert any(reason in problem for problem in describe_errors(values))


def test_a_key_neither_chart_has_stays_refused_as_unknown(tmp_path: Path) -> None:
    message = render_error(values_file(tmp_path, {"singleuser": {"extraEnvs": {"A": "1"}}}))
    assert "additional properties 'extraEnvs' not allowed" in message


def test_the_seed_profile_is_accepted_as_is(tmp_path: Path) -> None:
    seed = yaml.safe_load(CAMPUS.read_text())["singleuser"]["profileList"][1]
    del seed["allowedGroups"]
    manifests = render(values_file(tmp_path, {"singleuser": {"profileList": [seed]}}))
    assert hub_values(manifests)["singleuser"]["profileList"] == [seed]


@pytest.mark.parametrize("memory", ["512Mi", "4Gi", "4G", 1073741824])
def test_memory_in_kubernetes_and_kubespawner_units(tmp_path: Path, memory: str | int) -> None:
    profile = {"display_name": "Lab", "kubespawner_override": {"mem_limit": memory}}
    values = {"singleuser": {"memory": {"guarantee": memory}, "profileList": [profile]}}
    render(values_file(tmp_path, values))


UNSAFE = [
    ({"singleuser": {"uid": 0}}, "/singleuser/uid", "labs never run as root"),
    (
        {
            "singleuser": {
                "initContainers": [
                    {"name": "chown", "image": "busybox", "securityContext": {"runAsUser": 0}}
                ]
            }
        },
        "/singleuser/initContainers/0/securityContext/runAsUser",
        "labs never run as root",
    ),
    (
        {
            "singleuser": {
                "extraContainers": [
                    {"name": "x", "image": "x", "securityContext": {"privileged": True}}
                ]
            }
        },
        "/singleuser/extraContainers/0/securityContext/privileged",
        "containers of labs are never privileged",
    ),
    (
        {
            "singleuser": {
                "initContainers": [
                    {
                        "name": "x",
                        "image": "x",
                        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
                    }
                ]
            }
        },
        "/singleuser/initContainers/0/securityContext/capabilities",
        "additional properties 'add' not allowed",
    ),
    (
        {"singleuser": {"extraLabels": {"app.kubernetes.io/component": "hub"}}},
        "/singleuser/extraLabels",
        "the NetworkPolicies select labs by them",
    ),
    (
        {
            "singleuser": {
                "profileList": [{"display_name": "Root", "kubespawner_override": {"uid": 0}}]
            }
        },
        "/singleuser/profileList/0/kubespawner_override/uid",
        "labs run as singleuser.uid, never as another user or root",
    ),
    (
        {
            "singleuser": {
                "profileList": [
                    {
                        "display_name": "Host",
                        "kubespawner_override": {"extra_pod_config": {"hostPID": True}},
                    }
                ]
            }
        },
        "/singleuser/profileList/0/kubespawner_override/extra_pod_config",
        "it could give a lab host access",
    ),
    (
        {
            "singleuser": {
                "profileList": [
                    {
                        "display_name": "Any image",
                        "profile_options": {
                            "image": {
                                "display_name": "Image",
                                "choices": {"base": {"display_name": "Base"}},
                                "unlisted_choice": {"enabled": True},
                            }
                        },
                    }
                ]
            }
        },
        "/singleuser/profileList/0/profile_options/image/unlisted_choice",
        "free text would reach the pod as typed",
    ),
]


@pytest.mark.parametrize(("values", "located", "reason"), UNSAFE)
def test_values_that_would_weaken_a_lab_are_refused(
    tmp_path: Path, values: dict[str, Any], located: str, reason: str
) -> None:
    message = render_error(values_file(tmp_path, values))
    assert located in message
    assert reason in message


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (
            {
                "display_name": "GPU",
                "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "0.5"}},
            },
            "singleuser.profileList[0].kubespawner_override.extra_resource_limits.nvidia.com/gpu: "
            '0.5 is not a whole number of GPUs such as "1"',
        ),
        (
            {
                "display_name": "GPU",
                "gpus": 1,
                "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1"}},
            },
            "the profile also sets gpus; give the GPU count once",
        ),
        (
            {"display_name": "Lab", "displayName": "Lab"},
            "singleuser.profileList[0]: give the profile one name",
        ),
    ],
)
def test_profiles_that_do_not_fit_together(
    tmp_path: Path, profile: dict[str, Any], expected: str
) -> None:
    path = values_file(tmp_path, {"singleuser": {"profileList": [profile]}})
    assert expected in render_error(path)


def secret_env(secret: str) -> dict[str, Any]:
    return {"valueFrom": {"secretKeyRef": {"name": secret, "key": "hub.crypt-key"}}}


@pytest.mark.parametrize(
    ("values", "located", "secret"),
    [
        ({"singleuser": {"extraEnv": {"KEY": secret_env(HUB)}}}, "singleuser.extraEnv", HUB),
        (
            {
                "hub": {"existingSecret": "campus-hub"},
                "singleuser": {"extraEnv": [{"name": "KEY", **secret_env("campus-hub")}]},
            },
            "singleuser.extraEnv",
            "campus-hub",
        ),
        (
            {
                "singleuser": {
                    "initContainers": [
                        {
                            "name": "x",
                            "image": "x",
                            "envFrom": [{"secretRef": {"name": f"{HUB}-config"}}],
                        }
                    ]
                }
            },
            "singleuser.initContainers",
            f"{HUB}-config",
        ),
        (
            {
                "singleuser": {
                    "profileList": [
                        {
                            "display_name": "Lab",
                            "kubespawner_override": {"environment": {"K": secret_env(HUB)}},
                        }
                    ]
                }
            },
            "singleuser.profileList[0].kubespawner_override.environment",
            HUB,
        ),
        # The sign-in's Secret, which the hub reads through hub.extraEnv (docs/production.md).
        (
            {
                "hub": {"extraEnv": {"OAUTH_CLIENT_SECRET": secret_env("jupyterhub-login")}},
                "singleuser": {"extraEnv": {"KEY": secret_env("jupyterhub-login")}},
            },
            "singleuser.extraEnv",
            "jupyterhub-login",
        ),
        (
            {
                "hub": {"extraEnv": [{"name": "LTI", **secret_env("jupyterhub-login")}]},
                "singleuser": {
                    "extraContainers": [
                        {
                            "name": "x",
                            "image": "x",
                            "envFrom": [{"secretRef": {"name": "jupyterhub-login"}}],
                        }
                    ]
                },
            },
            "singleuser.extraContainers",
            "jupyterhub-login",
        ),
        # Files are as readable as variables: a secret volume, or one inside a projected volume.
        (
            {
                "singleuser": {
                    "storage": {"extraVolumes": [{"name": "x", "secret": {"secretName": HUB}}]}
                }
            },
            "singleuser.storage.extraVolumes",
            HUB,
        ),
        (
            {
                "singleuser": {
                    "storage": {
                        "extraVolumes": [
                            {
                                "name": "x",
                                "projected": {"sources": [{"secret": {"name": f"{HUB}-config"}}]},
                            }
                        ]
                    }
                }
            },
            "singleuser.storage.extraVolumes",
            f"{HUB}-config",
        ),
    ],
)
def test_labs_never_read_the_hubs_secrets(
    tmp_path: Path, values: dict[str, Any], located: str, secret: str
) -> None:
    message = render_error(values_file(tmp_path, values))
    assert f'{located}: reads the Secret "{secret}", which holds the hub' in message


def test_labs_may_read_a_secret_of_their_own(tmp_path: Path) -> None:
    values = {"singleuser": {"extraEnv": {"COURSE_API_KEY": secret_env("course-api")}}}
    render(values_file(tmp_path, values))
