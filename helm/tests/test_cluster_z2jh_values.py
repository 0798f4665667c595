"""Install the chart with a campus's z2jh values (values/z2jh-campus.yaml) and spawn its GPU lab.

Needs what test_cluster_install.py needs (`python -m devenv.cluster up`, the hub,
configurable-http-proxy and lab-base images built). The release lives in its own namespace and
is removed after. Only what cannot come from the campus's registry or nodes is replaced: the
images are the local registry's lab-base, and the campus's lab node pool label is dropped (kind's
nodes do not carry it; the GPU nodes' selector still applies).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_cluster_install import api, installed_hub_api, release_values, wait_until

from devenv import cluster_config

pytestmark = pytest.mark.cluster

CAMPUS = Path(__file__).resolve().parent / "values" / "z2jh-campus.yaml"
NAMESPACE = "hubconfig-z2jh"
RELEASE = "z2jh"
SPAWN_WAIT_S = 300
CLUSTER = cluster_config.current()
KUBECTL = CLUSTER.kubectl.in_namespace(NAMESPACE)


def campus_in_kind() -> dict[str, Any]:
    """The campus values with the lab images the kind nodes can pull."""
    campus = yaml.safe_load(CAMPUS.read_text())
    lab = release_values()["singleuser"]["image"]
    reference = f"{lab['name']}@{lab['digest']}"
    singleuser = campus["singleuser"]
    singleuser["initContainers"][0]["image"] = reference
    singleuser["profileList"][1]["kubespawner_override"]["image"] = reference
    # Helm drops a null: the labs get no campus node selector.
    singleuser["nodeSelector"] = None
    return campus


def overrides() -> dict[str, Any]:
    """What test_cluster_install.py's release gets (images, the test's service token), without
    the course mapping and the GPU types (the dev values map a course to a profile the campus
    does not have, and name GPU types that would leave its GPU profile's resource ambiguous)."""
    values = release_values()
    values["singleuser"]["courseProfiles"] = None
    values["singleuser"]["gpu"] = {"types": None}
    return values


@pytest.fixture(scope="module")
def hub_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("z2jh")
    campus, extra = folder / "campus.yaml", folder / "overrides.yaml"
    campus.write_text(yaml.safe_dump(campus_in_kind()))
    extra.write_text(yaml.safe_dump(overrides()))
    with installed_hub_api(campus, extra, release=RELEASE, namespace=NAMESPACE) as url:
        yield url


def test_the_seed_gpu_profile_runs_with_the_campus_settings(hub_api: str) -> None:
    api(hub_api, "POST", "/users/ada")
    api(hub_api, "POST", "/groups/gpu")
    assert api(hub_api, "POST", "/groups/gpu/users", json={"users": ["ada"]}).ok
    # A free-text choice the profile does not offer: refused, no pod.
    tampered = {"profile": "python-environment", "memory--unlisted-choice": "64Gi"}
    refused = api(hub_api, "POST", "/users/ada/server", json=tampered)
    assert refused.status_code == 400, refused.text
    assert KUBECTL.get("pods", "-l", "hub.jupyter.org/username=ada")["items"] == []

    started = api(hub_api, "POST", "/users/ada/server", json={"profile": "nlp-environment"})
    assert started.status_code in (201, 202), started.text
    wait_until(
        lambda: api(hub_api, "GET", "/users/ada").json()["servers"].get("", {}).get("ready"),
        SPAWN_WAIT_S,
        "ada's GPU lab to be ready",
    )
    (pod,) = KUBECTL.get("pods", "-l", "hub.jupyter.org/username=ada")["items"]
    name = pod["metadata"]["name"]
    (init,) = pod["status"]["initContainerStatuses"]
    assert init["name"] == "campus-init"
    assert init["state"]["terminated"]["exitCode"] == 0
    assert KUBECTL("logs", name, "-c", "campus-init").strip() == "campus init done"
    lab = next(c for c in pod["spec"]["containers"] if c["name"] == "notebook")
    assert lab["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}

    def in_lab(*command: str) -> str:
        return KUBECTL("exec", name, "-c", "notebook", "--", *command).strip()

    assert in_lab("printenv", "COURSE_PLATFORM") == "moodle"
    assert in_lab("printenv", "LAB_NAMESPACE") == NAMESPACE
    assert in_lab("cat", "/tmp/campus-post-start") == "course material ready"  # noqa: S108
    assert in_lab("id", "-u") == "1000"
    api(hub_api, "DELETE", "/users/ada/server")
