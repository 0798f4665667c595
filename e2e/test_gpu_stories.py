"""The GPU kinds of the dev cluster as a student meets them in the spawn form.

Needs `python -m devenv.dev_env up`: the A100 node (whole GPUs and MIG 1g.10gb slices) and the
time-sliced T4 node of `devenv/kind/fake-gpu-plugin/`, and the dev `gpu` profile that offers the
three GPU types of `helm/values-dev.yaml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from environment import Environment
from hub_api import HubAdmin
from pages import HubPages, LabPage
from playwright.sync_api import BrowserContext
from waits import wait_until

from conftest import sign_in

pytestmark = pytest.mark.cluster

USER = "gpu-student"
FREE_NOW = re.compile(r"(\d+) of (\d+) free now")


@dataclass(frozen=True)
class GpuKind:
    """One GPU type of the dev values, and what the node and nvidia-smi must show for it."""

    name: str
    resource: str
    product: str
    # A line `nvidia-smi -L` prints in a lab holding this kind.
    smi_line: re.Pattern[str]


KINDS = [
    GpuKind("a100", "nvidia.com/gpu", "NVIDIA-A100-SXM4-80GB", re.compile(r"^GPU 0: NVIDIA A100")),
    GpuKind(
        "mig-1g-10gb",
        "nvidia.com/mig-1g.10gb",
        "NVIDIA-A100-SXM4-80GB",
        re.compile(r"^\s+MIG 1g\.10gb\s+Device\s+0: \(UUID: MIG-"),
    ),
    GpuKind("t4-shared", "nvidia.com/gpu", "Tesla-T4-SHARED", re.compile(r"time-slicing")),
]


def in_use(env: Environment, node: str, resource: str) -> int:
    """What the pods on `node` that have not ended hold of `resource`, as kubectl lists them."""
    pods = env.kubectl.get(
        "pods",
        "--all-namespaces",
        "--field-selector",
        f"spec.nodeName={node},status.phase!=Succeeded,status.phase!=Failed",
    )["items"]
    return sum(
        int(container.get("resources", {}).get("limits", {}).get(resource, 0))
        for pod in pods
        for container in pod["spec"]["containers"]
    )


def free_on_kind(env: Environment, kind: GpuKind) -> tuple[int, int]:
    """(free, total) of the kind over the nodes whose product label names it."""
    nodes = env.kubectl.get("nodes", "-l", f"nvidia.com/gpu.product={kind.product}")["items"]
    assert nodes, f"no node is labelled nvidia.com/gpu.product={kind.product}"
    total = sum(int(node["status"]["allocatable"].get(kind.resource, 0)) for node in nodes)
    used = sum(in_use(env, node["metadata"]["name"], kind.resource) for node in nodes)
    return total - used, total


@pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])
def test_gpu_student_starts_each_gpu_kind_from_the_form(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin, kind: GpuKind
) -> None:
    """11. `gpu-student` sees, for each GPU type of the `gpu` profile, how many are free now and
    what their quota leaves; starts one of that type; the lab runs on a node of that kind
    with one of its resource, and `nvidia-smi -L` in a JupyterLab terminal shows what it got
    (a whole A100, a MIG slice, or the shared T4 with its time-slicing note)."""
    hub_admin.stop_server(USER)
    page = sign_in(new_context(), env, USER)
    hub = HubPages(page, env)
    hub.open_spawn_form()
    hub.choose_profile("gpu")
    choices = hub.option_labels("gpu", "gpu_type")
    assert set(choices) == {each.name for each in KINDS}, choices
    label = choices[kind.name]
    shown = FREE_NOW.search(label)
    assert shown, f"the form does not say how many are free: {label!r}"
    assert (int(shown[1]), int(shown[2])) == free_on_kind(env, kind), label
    assert "you may take 1 more" in label, label

    hub.choose_option("gpu", "gpu_type", kind.name)
    hub.choose_option("gpu", "gpus", "1")
    hub.submit_spawn_form()
    lab = LabPage(page)
    lab.wait_until_loaded()

    pods = env.lab_pods(USER)
    assert len(pods) == 1, pods
    pod = pods[0]
    node = env.kubectl.get("node", pod["spec"]["nodeName"])
    assert node["metadata"]["labels"].get("nvidia.com/gpu.product") == kind.product
    limits = pod["spec"]["containers"][0]["resources"]["limits"]
    gpu_limits = {name: value for name, value in limits.items() if name.startswith("nvidia.com/")}
    assert gpu_limits == {kind.resource: "1"}, limits

    output = f"nvidia-smi-{pod['metadata']['uid']}.txt"
    lab.new_terminal()
    lab.type_in_terminal(f"nvidia-smi -L > {output}; nvidia-smi >> {output}")
    wait_until(
        lambda: "NVIDIA-SMI" in (hub_admin.read_file(USER, output) or ""),
        timeout_s=60,
        what="nvidia-smi's output in the terminal's folder",
    )
    listing = hub_admin.read_file(USER, output) or ""
    assert any(kind.smi_line.search(line) for line in listing.splitlines()), listing
    hub_admin.delete_file(USER, output)
    hub_admin.stop_server(USER)
