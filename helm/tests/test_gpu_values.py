"""GPU types, per-resource quota and availability as the chart renders them."""

from __future__ import annotations

from pathlib import Path

import yaml
from chart_render import DEV_VALUES, NAMESPACE, find, render, secret_text

from hubconfig import values
from hubconfig.profiles import ProfileCatalogue

HUB = "jh-jupyterhub-k8s-hub"
GPUS_ROLE = f"{HUB}-{NAMESPACE}-gpus"


def hub_values(manifests: list[dict]) -> dict:
    secret = find(manifests, "Secret", f"{HUB}-config")
    return values.validate(yaml.safe_load(secret_text(secret, "values.yaml")))


def cluster_roles(manifests: list[dict]) -> list[dict]:
    return [m for m in manifests if m["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_availability_reads_nodes_and_pods_cluster_wide_and_nothing_else() -> None:
    manifests = render(DEV_VALUES)
    role = find(manifests, "ClusterRole", GPUS_ROLE)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["list"]}]
    binding = find(manifests, "ClusterRoleBinding", GPUS_ROLE)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": HUB, "namespace": NAMESPACE}]
    assert binding["roleRef"]["name"] == GPUS_ROLE
    for manifest in (role, binding):
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "jh"
        assert labels["app.kubernetes.io/component"] == "hub"


def test_without_availability_the_hub_gets_no_cluster_rights() -> None:
    manifests = render(DEV_VALUES, sets=("singleuser.gpu.availability.enabled=false",))
    assert cluster_roles(manifests) == []


def test_the_dev_gpu_profile_offers_three_types_a100_first() -> None:
    singleuser = hub_values(render(DEV_VALUES))["singleuser"]
    catalogue = ProfileCatalogue.from_values(singleuser)
    gpu = catalogue.by_slug("gpu")
    assert [kind.name for kind in gpu.gpu_types] == ["a100", "mig-1g-10gb", "t4-shared"]
    assert (gpu.gpus, gpu.gpu_choices()) == (2, [1, 2])
    assert {name: kind.resource_name for name, kind in catalogue.gpu.types.items()} == {
        "a100": "nvidia.com/gpu",
        "mig-1g-10gb": "nvidia.com/mig-1g.10gb",
        "t4-shared": "nvidia.com/gpu",
    }
    assert catalogue.gpu.node_selector_of(catalogue.gpu.types["t4-shared"]) == {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": "Tesla-T4-SHARED",
    }


def test_per_resource_quota_reaches_the_hub(tmp_path: Path) -> None:
    path = tmp_path / "quota.yaml"
    path.write_text(
        yaml.safe_dump({"singleuser": {"gpuQuota": {"perResource": {"nvidia.com/mig-1g.10gb": 3}}}})
    )
    quota = hub_values(render(DEV_VALUES, path))["singleuser"]["gpuQuota"]
    assert quota == {
        "perUser": 1,
        "perResource": {"nvidia.com/mig-1g.10gb": 3},
        "perGroup": {"gpu": 4},
    }
