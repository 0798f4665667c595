"""NetworkPolicies are enforced (the chart relies on them): kube-router's firewall."""

from __future__ import annotations

import pytest
from cluster_kube import Kube, greeting, pod_manifest, running_pod

from devenv import cluster
from tools import binaries

pytestmark = pytest.mark.cluster

PORT = 8080
# debian:bookworm-slim has perl-base but no netcat or Python: a one-line TCP server in Perl,
# and bash's /dev/tcp for the client.
SERVER = [
    "perl", "-MIO::Socket::INET", "-e",
    f"$s = IO::Socket::INET->new(LocalPort => {PORT}, Listen => 5, ReuseAddr => 1) or die;"
    ' while ($c = $s->accept) { print $c "hello\\n"; close $c }',
]  # fmt: skip


def connects(kube: Kube, namespace: str, address: str) -> bool:
    """Whether the client pod can open a TCP connection to the server."""
    return greeting(kube, namespace, "client", address, PORT) == "hello"


def test_a_policy_denying_ingress_is_enforced(kube: Kube, namespace: str) -> None:
    kube.apply(pod_manifest("server", namespace, command=SERVER, labels={"role": "server"}))
    kube.apply(pod_manifest("client", namespace, labels={"role": "client"}))
    address = running_pod(kube, namespace, "server")["status"]["podIP"]
    running_pod(kube, namespace, "client")
    kube.wait_until(
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
    kube.wait_until(
        "the policy to block the client", lambda: not connects(kube, namespace, address), timeout=60
    )
    # Still blocked a little later: the policy holds, it was no transient failure.
    assert not connects(kube, namespace, address)

    kube.run("delete", "networkpolicy", "-n", namespace, "deny-ingress")
    kube.wait_until(
        "the client to reach the server again", lambda: connects(kube, namespace, address)
    )


def test_every_node_routes_every_pod_subnet_without_masquerading(kube: Kube) -> None:
    """Else a pod reaching a pod on another node arrives from that node's address, and policies
    that allow pods by selector (the hub reaching a lab on the GPU node) drop it."""
    kind = binaries.ensure("kind")
    assert cluster.pod_subnets_missing(kind) == {}
