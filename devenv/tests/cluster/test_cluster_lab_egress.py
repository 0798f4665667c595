"""The chart's lab NetworkPolicy, enforced by kube-router: a lab without internet cannot open
TCP 53 to a server outside the cluster (a DNS server of its choice: a tunnel past
`allowInternet: false`), a lab with internet reaches neither the cloud metadata range nor
carrier-grade NAT, and both still resolve names through the cluster DNS. Each target answered the
lab before the policy, and a pod the policy does not select still reaches it after, so what
blocks the lab is the policy.

Every address is this machine's own (`host_listeners.py`): addresses the test adds to the kind
bridge. Not the bridge's gateway itself: kind nodes send its port 53 to Docker's DNS.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chart_render import DEV_VALUES, RELEASE, find, render
from cluster_kube import greeting, output_or_nothing, pod_manifest, running_pod, wait_until
from host_listeners import GREETING, listening

from hubconfig.config import lab_labels
from tools.kube import Kubectl

pytestmark = pytest.mark.cluster

# A documentation address (RFC 5737, never routed) standing in for a public server.
OUTSIDE = "198.51.100.53"
# ECS's credentials endpoint: in 169.254.0.0/16 but not the 169.254.169.254/32 the old
# exceptions named. Alibaba Cloud's metadata address: in carrier-grade NAT, 100.64.0.0/10.
METADATA = "169.254.170.2"
CGNAT = "100.100.100.200"
DNS_OUTSIDE = (OUTSIDE, 53)
WEB_OUTSIDE = (OUTSIDE, 80)
TARGETS = [DNS_OUTSIDE, WEB_OUTSIDE, (METADATA, 80), (CGNAT, 80)]
POLICY_WAIT_S = 60


@pytest.fixture(scope="module")
def listeners() -> Iterator[None]:
    with listening(TARGETS, extra_addresses=[OUTSIDE, METADATA, CGNAT]):
        yield


def reaches(kube: Kubectl, namespace: str, pod: str, target: tuple[str, int]) -> bool:
    return greeting(kube, namespace, pod, *target) == GREETING.decode().strip()


def resolves(kube: Kubectl, namespace: str, pod: str) -> bool:
    output = output_or_nothing(
        kube, "exec", "-n", namespace, pod, "--",
        "timeout", "10", "getent", "hosts", "kubernetes.default.svc.cluster.local",
    )  # fmt: skip
    return bool(output.strip())


def lab_under_policy(
    kube: Kubectl, namespace: str, sets: tuple[str, ...], blocked: list[tuple[str, int]]
) -> None:
    """A lab and a control pod; every `blocked` target answers the lab until the chart's lab
    policy (rendered with `sets`) is applied, then only the control pod."""
    kube.apply(pod_manifest("lab", namespace, labels=lab_labels(RELEASE)))
    kube.apply(pod_manifest("control", namespace, labels={"role": "not-a-lab"}))
    for pod in ("lab", "control"):
        running_pod(kube, namespace, pod)
    for target in blocked:
        wait_until(
            f"the lab to reach {target} before any policy",
            lambda target=target: reaches(kube, namespace, "lab", target),
        )

    policy = find(
        render(DEV_VALUES, sets=sets), "NetworkPolicy", f"{RELEASE}-jupyterhub-k8s-singleuser"
    )
    kube.apply({**policy, "metadata": {**policy["metadata"], "namespace": namespace}})

    for target in blocked:
        wait_until(
            f"the lab policy to block {target}",
            lambda target=target: not reaches(kube, namespace, "lab", target),
            timeout=POLICY_WAIT_S,
        )
    # Still blocked a little later (the policy holds), while the pod it does not select gets
    # through, and the lab still asks the cluster DNS.
    assert [t for t in blocked if reaches(kube, namespace, "lab", t)] == []
    assert [t for t in blocked if not reaches(kube, namespace, "control", t)] == []
    assert resolves(kube, namespace, "lab"), "the lab cannot resolve names through the cluster DNS"


@pytest.mark.usefixtures("listeners")
def test_a_lab_without_internet_asks_no_dns_server_outside(kube: Kubectl, namespace: str) -> None:
    lab_under_policy(
        kube, namespace, ("networkPolicy.singleuser.allowInternet=false",), [DNS_OUTSIDE]
    )


@pytest.mark.usefixtures("listeners")
def test_a_lab_with_internet_reaches_no_metadata_or_cgnat(kube: Kubectl, namespace: str) -> None:
    lab_under_policy(kube, namespace, (), [(METADATA, 80), (CGNAT, 80)])
    assert reaches(kube, namespace, "lab", WEB_OUTSIDE), "the lab lost the internet"
