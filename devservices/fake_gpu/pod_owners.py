"""Which pod an allocation went to: the v1beta1 Allocate call does not say, so after it the plugin
asks the kubelet's PodResources API (List), which records each container's device ids."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc

from fake_gpu.podresources import api_pb2, api_pb2_grpc

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Owner:
    namespace: str
    pod: str
    container: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.pod} container {self.container}"


def device_owners(response: api_pb2.ListPodResourcesResponse) -> dict[tuple[str, str], Owner]:
    """(resource name, device id) -> the container holding it, for each device the kubelet lists."""
    return {
        (devices.resource_name, device): Owner(pod.namespace, pod.name, container.name)
        for pod in response.pod_resources
        for container in pod.containers
        for devices in container.devices
        for device in devices.device_ids
    }


def containers_holding(
    response: api_pb2.ListPodResourcesResponse, resource: str, ids: Iterable[str]
) -> list[str]:
    """`namespace/pod container` of each container holding any of `ids` as `resource`."""
    wanted = {(resource, device) for device in ids}
    owners = device_owners(response)
    return list(dict.fromkeys(str(owners[key]) for key in owners if key in wanted))


def list_pod_resources(socket: Path) -> api_pb2.ListPodResourcesResponse:
    with grpc.insecure_channel(f"unix://{socket}") as channel:
        return api_pb2_grpc.PodResourcesListerStub(channel).List(
            api_pb2.ListPodResourcesRequest(), timeout=LIST_TIMEOUT_S
        )


class AllocationOwners:
    """Logs, in the background, the pod and container each allocation went to."""

    def __init__(self, socket: Path | None, wait_s: float = 15.0, interval_s: float = 0.5) -> None:
        self._socket = socket
        self._wait_s = wait_s
        self._interval_s = interval_s

    def log_later(self, resource: str, ids: list[str]) -> None:
        # The kubelet records the allocation only once Allocate has answered: ask afterwards.
        threading.Thread(target=self.log_owner, args=(resource, ids), daemon=True).start()

    def log_owner(self, resource: str, ids: list[str]) -> None:
        """Ask the kubelet until it lists a container holding `ids` (or time is up); log it."""
        named = ", ".join(ids)
        if self._socket is None or not self._socket.exists():
            log.info("%s: pod unknown (no pod-resources socket at %s)", named, self._socket)
            return
        deadline = time.monotonic() + self._wait_s
        problem = "the kubelet lists no container holding them"
        while time.monotonic() < deadline:
            try:
                owners = containers_holding(list_pod_resources(self._socket), resource, ids)
            except grpc.RpcError as error:
                owners, problem = [], f"the kubelet's List failed: {error.code().name}"
            if owners:
                log.info("%s went to %s", named, "; ".join(owners))
                return
            time.sleep(self._interval_s)
        log.info("%s: pod unknown after %.0f s (%s)", named, self._wait_s, problem)
