"""The chart's lab NetworkPolicy, enforced by kube-router: a lab cannot open TCP 53 to a server
outside the cluster (a DNS server of its choice: a tunnel past `allowInternet`), nor reach the
cloud metadata range or carrier-grade NAT, and still resolves names through the cluster DNS. A
pod the policy does not select reaches the same addresses from the same namespace, so what blocks
the lab is the policy.

Every address is this machine's own (`host_listeners.py`): the kind bridge's gateway, and
addresses added to the bridge for the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chart_render import DEV_VALUES, RELEASE, find, render
from cluster_kube import Kube, greeting, pod_manifest, running_pod
from host_listeners import GREETING, kind_bridge, listening

from hubconfig.config import lab_labels

pytestmark = pytest.mark.cluster

# ECS's credentials endpoint: in 169.254.0.0/16 but not the 169.254.169.254/32 the old
# exceptions named. Alibaba Cloud's metadata address: in carrier-grade NAT, 100.64.0.0/10.
METADATA = "169.254.170.2"
CGNAT = "100.100.100.200"
HTTP = 80
DNS = 53
POLICY_WAIT_S = 60


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, tuple[str, int]]]:
    _, gateway = kind_bridge()
    found = {"dns outside": (gateway, DNS), "metadata": (METADATA, HTTP), "cgnat": (CGNAT, HTTP)}
    with listening(list(found.values()), extra_addresses=[METADATA, CGNAT]):
        yield found


def reaches(kube: Kube, namespace: str, pod: str, target: tuple[str, int]) -> bool:
    return greeting(kube, namespace, pod, *target) == GREETING.decode().strip()


def resolves(kube: Kube, namespace: str, pod: str) -> bool:
    output = kube.run(
        "exec", "-n", namespace, pod, "--",
        "timeout", "10", "getent", "hosts", "kubernetes.default.svc.cluster.local",
        check=False,
    )  # fmt: skip
    return bool(output.strip())


def test_a_lab_reaches_neither_outside_dns_nor_metadata(
    kube: Kube, namespace: str, targets: dict[str, tuple[str, int]]
) -> None:
    kube.apply(pod_manifest("lab", namespace, labels=lab_labels(RELEASE)))
    kube.apply(pod_manifest("control", namespace, labels={"role": "not-a-lab"}))
    for pod in ("lab", "control"):
        running_pod(kube, namespace, pod)
    for what, target in targets.items():
        kube.wait_until(
            f"the lab to reach {what} {target} before any policy",
            lambda target=target: reaches(kube, namespace, "lab", target),
        )

    policy = find(render(DEV_VALUES), "NetworkPolicy", f"{RELEASE}-jupyterhub-k8s-singleuser")
    kube.apply({**policy, "metadata": {**policy["metadata"], "namespace": namespace}})

    for what, target in targets.items():
        kube.wait_until(
            f"the lab policy to block {what} {target}",
            lambda target=target: not reaches(kube, namespace, "lab", target),
            timeout=POLICY_WAIT_S,
        )
    # Still blocked a little later (the policy holds), while the pod it does not select gets
    # through, and the lab still asks the cluster DNS.
    blocked = {what: not reaches(kube, namespace, "lab", t) for what, t in targets.items()}
    assert blocked == dict.fromkeys(targets, True)
    control = {what: reaches(kube, namespace, "control", t) for what, t in targets.items()}
    assert control == dict.fromkeys(targets, True)
    assert resolves(kube, namespace, "lab"), "the lab cannot resolve names through the cluster DNS"
