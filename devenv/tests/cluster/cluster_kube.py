"""Helpers for the tests against the local kind cluster, over the project's one kubectl
interface (tools.kube.Kubectl)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tools.bootstrap.run import RunError
from tools.kube import Kubectl

TEST_IMAGE = "debian:bookworm-slim"
CONNECT_WAIT_S = 5
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
WAIT_S = 120


def wait_until(what: str, condition: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll condition until it returns something truthy; fail naming what we waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def output_or_nothing(kube: Kubectl, *args: str) -> str:
    """kubectl's output, or "" when the command fails (a probe whose failure is an answer)."""
    try:
        return kube(*args)
    except RunError:
        return ""


def pod_manifest(
    name: str,
    namespace: str,
    *,
    command: list[str] | None = None,
    gpus: int = 0,
    gpu_resource: str = "nvidia.com/gpu",
    tolerate_gpu: bool = False,
    node_selector: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A pod running the test image (sleeping unless told otherwise)."""
    container: dict[str, Any] = {
        "name": "main",
        "image": TEST_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": command or ["sleep", "infinity"],
    }
    if gpus:
        container["resources"] = {"limits": {gpu_resource: str(gpus)}}
    spec: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 0}
    if tolerate_gpu:
        spec["tolerations"] = [GPU_TOLERATION]
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": spec,
    }


def running_pod(kube: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    """Wait until the pod runs; return it."""

    def running() -> dict[str, Any] | None:
        pod = kube.get("pod", "-n", namespace, name)
        status = pod["status"]
        if status.get("phase") == "Failed":
            # For example UnexpectedAdmissionError: waiting longer cannot help.
            raise AssertionError(
                f"pod {namespace}/{name} failed: {status.get('reason')}: {status.get('message')}"
            )
        return pod if status.get("phase") == "Running" else None

    try:
        return wait_until(f"pod {namespace}/{name} to run", running)
    except AssertionError as error:
        status = kube.get("pod", "-n", namespace, name)["status"]
        conditions = [
            f"{c['type']}={c['status']} {c.get('reason', '')} {c.get('message', '')}".strip()
            for c in status.get("conditions", [])
        ]
        raise AssertionError(f"{error}; phase {status.get('phase')}: {conditions}") from None


def unschedulable_message(kube: Kubectl, namespace: str, name: str) -> str:
    """Wait until the scheduler reports the pod unschedulable; return its message."""

    def message() -> str | None:
        pod = kube.get("pod", "-n", namespace, name)
        for condition in pod["status"].get("conditions", []):
            if condition["type"] == "PodScheduled" and condition.get("reason") == "Unschedulable":
                return condition.get("message", "")
        return None

    return wait_until(f"pod {namespace}/{name} to be reported unschedulable", message)


def greeting(kube: Kubectl, namespace: str, pod: str, address: str, port: int) -> str:
    """The first line a TCP server at address:port sends the pod, "" when the pod cannot connect
    within CONNECT_WAIT_S (the test image has no netcat: bash's /dev/tcp)."""
    output = output_or_nothing(
        kube, "exec", "-n", namespace, pod, "--",
        "timeout", str(CONNECT_WAIT_S), "bash", "-c",
        f"exec 3<>/dev/tcp/{address}/{port} && head -n1 <&3",
    )  # fmt: skip
    return output.strip()
