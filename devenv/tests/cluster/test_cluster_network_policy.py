"""NetworkPolicies are enforced (the chart relies on them): kube-router's firewall."""

from __future__ import annotations

import pytest
from cluster_kube import greeting, pod_manifest, running_pod, wait_until

from devenv import cluster, cluster_config
from tools.kube import Kubectl

pytestmark = pytest.mark.cluster

PORT = 8080
# debian:bookworm-slim has perl-base but no netcat or Python: a one-line TCP server in Perl,
# and bash's /dev/tcp for the client.
SERVER = [
    "perl", "-MIO::Socket::INET", "-e",
    f"$s = IO::Socket::INET->new(LocalPort => {PORT}, Listen => 5, ReuseAddr => 1) or die;"
    ' while ($c = $s->accept) { print $c "hello\\n"; close $c }',
]  # fmt: skip


def connects(kube: Kubectl, namespace: str, address: str) -> bool:
    """Whether the client pod can open a TCP connection to the server."""
    return greeting(kube, namespace, "client", address, PORT) == "hello"


def test_a_policy_denying_ingress_is_enforced(kube: Kubectl, namespace: str) -> None:
    kube.apply(pod_manifest("server", namespace, command=SERVER, labels={"role": "server"}))
    kube.apply(pod_manifest("client", namespace, labels={"role": "client"}))
    address = running_pod(kube, namespace, "server")["status"]["podIP"]
    running_pod(kube, namespace, "client")
    wait_until(
        "the client to reach the server before any policy",
        lambda: connects(kube, namespace, address),
    )

    kube.apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny-ingress", "namespace": namespace},
            "spec": {
                "podSelector": {"matchLabels": {"role": "server"}},
                "policyTypes": ["Ingress"],
            },
        }
    )
    wait_until(
        "the policy to block the client", lambda: not connects(kube, namespace, address), timeout=60
    )
    # Still blocked a little later: the policy holds, it was no transient failure.
    assert not connects(kube, namespace, address)

    kube("delete", "networkpolicy", "-n", namespace, "deny-ingress")
    wait_until("the client to reach the server again", lambda: connects(kube, namespace, address))


def test_every_node_routes_every_pod_subnet_without_masquerading(kube: Kubectl) -> None:
    """Else a pod reaching a pod on another node arrives from that node's address, and policies
    that allow pods by selector (the hub reaching a lab on the GPU node) drop it."""
    assert cluster.pod_subnets_missing(cluster_config.current()) == {}
