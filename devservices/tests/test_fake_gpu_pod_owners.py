"""Naming the pod an allocation went to, from a fake kubelet PodResources service."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from fake_gpu.pod_owners import AllocationOwners, containers_holding
from fake_gpu.podresources import api_pb2, api_pb2_grpc


def pod(namespace: str, name: str, container: str, resource: str, *ids: str):
    return api_pb2.PodResources(
        namespace=namespace,
        name=name,
        containers=[
            api_pb2.ContainerResources(
                name=container,
                devices=[api_pb2.ContainerDevices(resource_name=resource, device_ids=ids)],
            )
        ],
    )


LAB = pod("jupyterhub", "jupyter-alice", "notebook", "nvidia.com/gpu", "GPU-1", "GPU-2")
OTHER_RESOURCE = pod("default", "fpga-job", "main", "example.com/fpga", "GPU-3")


class FakePodResources(api_pb2_grpc.PodResourcesListerServicer):
    """Answers List with nothing for the first `empty_lists` calls, then with `pods`."""

    def __init__(self, pods: list[api_pb2.PodResources], empty_lists: int = 0) -> None:
        self.pods = pods
        self.empty_lists = empty_lists
        self.calls = 0

    def List(self, request, context):
        self.calls += 1
        listed = self.pods if self.calls > self.empty_lists else []
        return api_pb2.ListPodResourcesResponse(pod_resources=listed)


@pytest.fixture
def socket_path() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="podres-", dir="/tmp"))
    yield folder / "kubelet.sock"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def serve(socket_path: Path) -> Iterator:
    servers = []

    def start(lister: FakePodResources) -> FakePodResources:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        api_pb2_grpc.add_PodResourcesListerServicer_to_server(lister, server)
        server.add_insecure_port(f"unix://{socket_path}")
        server.start()
        servers.append(server)
        return lister

    yield start
    for server in servers:
        server.stop(grace=None).wait()


def test_names_containers_holding_any_of_the_ids_as_gpus():
    response = api_pb2.ListPodResourcesResponse(pod_resources=[LAB, OTHER_RESOURCE])
    assert containers_holding(response, "nvidia.com/gpu", ["GPU-2", "GPU-3"]) == [
        "jupyterhub/jupyter-alice container notebook"
    ]
    assert containers_holding(response, "nvidia.com/gpu", ["GPU-4"]) == []


def test_logs_the_pod_once_the_kubelet_lists_it(
    serve, socket_path: Path, caplog: pytest.LogCaptureFixture
):
    lister = serve(FakePodResources([LAB], empty_lists=2))
    with caplog.at_level(logging.INFO, logger="fake_gpu"):
        AllocationOwners(socket_path, wait_s=10, interval_s=0.01).log_owner(
            "nvidia.com/gpu", ["GPU-1", "GPU-2"]
        )
    assert caplog.messages == ["GPU-1, GPU-2 went to jupyterhub/jupyter-alice container notebook"]
    assert lister.calls == 3


def test_says_when_the_kubelet_never_lists_it(
    serve, socket_path: Path, caplog: pytest.LogCaptureFixture
):
    serve(FakePodResources([OTHER_RESOURCE]))
    with caplog.at_level(logging.INFO, logger="fake_gpu"):
        AllocationOwners(socket_path, wait_s=0.2, interval_s=0.01).log_owner(
            "nvidia.com/gpu", ["GPU-1"]
        )
    assert caplog.messages == [
        "GPU-1: pod unknown after 0 s (the kubelet lists no container holding them)"
    ]


def test_says_when_there_is_no_pod_resources_socket(
    socket_path: Path, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger="fake_gpu"):
        AllocationOwners(socket_path).log_owner("nvidia.com/gpu", ["GPU-1"])
    assert caplog.messages == [f"GPU-1: pod unknown (no pod-resources socket at {socket_path})"]
