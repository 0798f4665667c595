"""Free GPUs per kind for the form: counted from the API's node and pod lists, read through the
hub's API client, cached, and "unknown" when the read fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from gpu_cluster import GPU_NODE, NODES, PODS, serving_api

from hubconfig import kube_api
from hubconfig.gpu_availability import (
    NODES_PATH,
    PODS_PATH,
    ClusterGpus,
    GpuAvailability,
    GpuCount,
    form_note,
)

A100 = {**GPU_NODE, "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
T4 = {**GPU_NODE, "nvidia.com/gpu.product": "Tesla-T4-SHARED"}


@pytest.fixture
def cluster() -> ClusterGpus:
    return ClusterGpus.from_lists(NODES, PODS)


@pytest.mark.parametrize(
    ("resource", "selector", "expected"),
    [
        # One of the A100 node's two whole GPUs is held.
        ("nvidia.com/gpu", A100, GpuCount(free=1, total=2)),
        ("nvidia.com/mig-1g.10gb", GPU_NODE, GpuCount(free=5, total=7)),
        # The T4's 4 replicas: one held by a running lab, two by an init container (the
        # scheduler counts the larger of init and main containers); the ended pod holds none.
        ("nvidia.com/gpu", T4, GpuCount(free=1, total=4)),
        ("nvidia.com/gpu", GPU_NODE, GpuCount(free=2, total=6)),
        ("nvidia.com/gpu", {"nvidia.com/gpu.product": "H100"}, GpuCount(free=0, total=0)),
    ],
)
def test_free_gpus_per_kind(
    cluster: ClusterGpus, resource: str, selector: dict, expected: GpuCount
) -> None:
    assert cluster.count(resource, selector) == expected


def test_pods_beyond_the_allocatable_count_never_give_negative_free() -> None:
    nodes = {"items": [NODES["items"][1]]}
    pods = {"items": [PODS["items"][0]] * 5}
    assert ClusterGpus.from_lists(nodes, pods).count("nvidia.com/gpu", {}) == GpuCount(0, 2)


def test_form_notes() -> None:
    assert form_note("NVIDIA A100 80GB", "", GpuCount(1, 2), 1) == (
        "NVIDIA A100 80GB: 1 of 2 free now; you may take 1 more"
    )
    assert form_note("MIG", "A seventh of an A100.", None, 0) == (
        "MIG: availability unknown; you may take 0 more. A seventh of an A100."
    )
    assert form_note("MIG", "A seventh of an A100.", GpuCount(3, 7), 2, max_per_lab=1) == (
        "MIG: 3 of 7 free now; you may take 2 more; at most 1 per lab. A seventh of an A100."
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_one_read_serves_every_form_for_a_few_seconds() -> None:
    reads: list[str] = []

    def read(path: str) -> Any:
        reads.append(path)
        return NODES if path == NODES_PATH else PODS

    clock = Clock()
    availability = GpuAvailability(read, cache_s=5, clock=clock)
    # A lecture's burst: many forms at once still read the cluster once.
    results = await asyncio.gather(*(availability.current() for _ in range(20)))
    assert reads == [NODES_PATH, PODS_PATH]
    assert all(result == results[0] for result in results)
    clock.now += 4.9
    await availability.current()
    assert len(reads) == 2
    clock.now += 0.2
    await availability.current()
    assert len(reads) == 4


@pytest.mark.parametrize(
    "failure",
    [OSError("connection refused"), ValueError("not JSON"), {"kind": "Status"}, {"items": 3}],
)
async def test_a_failed_read_is_unknown_not_an_error(failure: object) -> None:
    def read(path: str) -> Any:
        if isinstance(failure, Exception):
            raise failure
        return failure

    assert await GpuAvailability(read).current() is None


async def test_without_a_reader_availability_is_unknown() -> None:
    assert await GpuAvailability(None).current() is None


@pytest.fixture
def fake_api() -> Iterator[tuple[str, list[str]]]:
    with serving_api() as served:
        yield served


async def test_reads_through_the_hubs_api_client(fake_api: tuple[str, list[str]]) -> None:
    api_url, seen = fake_api
    cluster = await GpuAvailability(kube_api.json_reader(api_url)).current()
    assert cluster is not None
    assert cluster.count("nvidia.com/gpu", A100) == GpuCount(1, 2)
    # Ended pods are left out by the API server, not sent and dropped.
    assert seen == [
        "/api/v1/nodes",
        "/api/v1/pods?fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed",
    ]


async def test_an_api_that_refuses_is_unknown(fake_api: tuple[str, list[str]]) -> None:
    api_url, _ = fake_api
    assert await GpuAvailability(kube_api.json_reader(f"{api_url}/nowhere")).current() is None
