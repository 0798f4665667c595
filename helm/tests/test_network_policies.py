"""The chart's NetworkPolicies close the ways out that `allowInternet: false` and the internet
rules' exceptions are meant to close: DNS to anywhere, cloud metadata, carrier-grade NAT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import DEV_VALUES, PRODUCTION_VALUES, RELEASE, find, render, render_error

FULLNAME = f"{RELEASE}-jupyterhub-k8s"
POLICIES = (f"{FULLNAME}-hub", f"{FULLNAME}-proxy", f"{FULLNAME}-singleuser")
LAB_POLICY = f"{FULLNAME}-singleuser"
HUB_POLICY = f"{FULLNAME}-hub"
CLUSTER_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
# Link-local (AWS/GCP/OpenStack metadata 169.254.169.254, ECS credentials 169.254.170.2, ...),
# Azure's wireserver, carrier-grade NAT (Alibaba's metadata 100.100.100.200, cloud internals).
METADATA_AND_CGNAT = {"169.254.0.0/16", "168.63.129.16/32", "100.64.0.0/10"}
PRIVATE = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}


def egress(
    values_file: Path, name: str, sets: tuple[str, ...] = (), extra: tuple[Path, ...] = ()
) -> list[dict[str, Any]]:
    policy = find(render(values_file, *extra, sets=sets), "NetworkPolicy", name)
    return policy["spec"]["egress"]


def dns_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for rule in rules if any(p.get("port") == 53 for p in rule.get("ports", []))]


def internet_blocks(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        peer["ipBlock"]
        for rule in rules
        for peer in rule.get("to", [])
        if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" and "ports" not in rule
    ]


@pytest.mark.parametrize("values_file", [DEV_VALUES, PRODUCTION_VALUES])
@pytest.mark.parametrize("name", POLICIES)
def test_every_egress_rule_names_its_destinations(values_file: Path, name: str) -> None:
    """A rule without `to` allows every address: the old DNS rule let labs without internet
    reach any server on port 53."""
    for rule in egress(values_file, name):
        assert rule.get("to"), f"{name}: egress rule {rule} reaches every address"


@pytest.mark.parametrize("name", POLICIES)
def test_dns_goes_only_to_the_cluster_dns(name: str) -> None:
    (rule,) = dns_rules(egress(DEV_VALUES, name))
    assert rule == {"ports": DNS_PORTS, "to": [CLUSTER_DNS]}


def test_extra_dns_addresses_are_reachable_on_port_53_only() -> None:
    sets = ("networkPolicy.dns.extraCidrs={169.254.20.10/32}",)
    for name in POLICIES:
        (rule,) = dns_rules(egress(DEV_VALUES, name, sets))
        assert rule == {
            "ports": DNS_PORTS,
            "to": [CLUSTER_DNS, {"ipBlock": {"cidr": "169.254.20.10/32"}}],
        }


@pytest.mark.parametrize("values_file", [DEV_VALUES, PRODUCTION_VALUES])
def test_labs_never_reach_metadata_cgnat_or_private_ranges(values_file: Path) -> None:
    (internet,) = internet_blocks(egress(values_file, LAB_POLICY))
    assert set(internet["except"]) >= METADATA_AND_CGNAT | PRIVATE


def test_a_campus_list_of_lab_exceptions_keeps_the_metadata_exceptions() -> None:
    """Helm replaces lists: a values file that lists its own `internetExcept` (and forgets the
    metadata address) must not open it."""
    sets = ("networkPolicy.singleuser.internetExcept={198.51.100.0/24}",)
    (internet,) = internet_blocks(egress(DEV_VALUES, LAB_POLICY, sets))
    assert METADATA_AND_CGNAT | {"198.51.100.0/24"} <= set(internet["except"])


@pytest.mark.parametrize("values_file", [DEV_VALUES, PRODUCTION_VALUES])
def test_hub_reaches_the_internet_but_not_metadata_or_cgnat(values_file: Path) -> None:
    """The hub keeps the private ranges: in dev it reaches Keycloak and the mock Moodle there."""
    (internet,) = internet_blocks(egress(values_file, HUB_POLICY))
    assert set(internet["except"]) == METADATA_AND_CGNAT


def test_without_internet_no_rule_reaches_outside_the_cluster() -> None:
    sets = ("networkPolicy.singleuser.allowInternet=false",)
    rules = egress(DEV_VALUES, LAB_POLICY, sets)
    assert internet_blocks(rules) == []
    assert [peer for rule in rules for peer in rule["to"] if "ipBlock" in peer] == []


@pytest.mark.parametrize("values_file", [DEV_VALUES, PRODUCTION_VALUES])
@pytest.mark.parametrize("name", POLICIES)
def test_no_rule_opens_ipv6(values_file: Path, name: str) -> None:
    """The internet rules are IPv4 only, so IPv6 metadata (fd00:ec2::254) stays closed without
    an exception of its own."""
    cidrs = [
        peer["ipBlock"]["cidr"]
        for rule in egress(values_file, name)
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    assert not [cidr for cidr in cidrs if ":" in cidr]


def extra_rules(tmp_path: Path, component: str, rules: list[dict[str, Any]]) -> Path:
    values = tmp_path / "egress.yaml"
    values.write_text(yaml.safe_dump({"networkPolicy": {component: {"egress": rules}}}))
    return values


LICENCE_SERVER = {
    "to": [{"ipBlock": {"cidr": "198.51.100.20/32"}}],
    "ports": [{"protocol": "TCP", "port": 27000, "endPort": 27009}],
}
DATABASE_NAMESPACE = {
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "databases"}}}],
    "ports": [{"port": 5432}],
}


def test_a_licence_server_inside_the_lab_exceptions_is_reachable_on_its_ports(
    tmp_path: Path,
) -> None:
    """A campus service in `internetExcept` (licence servers, data stores) opens with a rule of
    its own; NetworkPolicies add up, so the internet rule keeps its exceptions."""
    values = extra_rules(tmp_path, "singleuser", [LICENCE_SERVER])
    rules = egress(DEV_VALUES, LAB_POLICY, extra=(values,))
    assert LICENCE_SERVER in rules
    (internet,) = internet_blocks(rules)
    assert set(internet["except"]) >= METADATA_AND_CGNAT | PRIVATE


def test_the_hub_without_internet_reaches_a_database_through_an_extra_rule(
    tmp_path: Path,
) -> None:
    values = extra_rules(tmp_path, "hub", [DATABASE_NAMESPACE])
    sets = ("networkPolicy.hub.allowInternet=false",)
    rules = egress(PRODUCTION_VALUES, HUB_POLICY, sets, extra=(values,))
    assert internet_blocks(rules) == []
    assert DATABASE_NAMESPACE in rules


@pytest.mark.parametrize("component", ["hub", "singleuser"])
def test_a_wide_extra_rule_keeps_the_metadata_ranges_closed(tmp_path: Path, component: str) -> None:
    """`0.0.0.0/0` on port 443 must not reopen 169.254.169.254 on 443."""
    wide = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}
    policy = HUB_POLICY if component == "hub" else LAB_POLICY
    values = extra_rules(tmp_path, component, [wide])
    rules = egress(DEV_VALUES, policy, extra=(values,))
    (rule,) = [r for r in rules if r.get("ports") == [{"port": 443}]]
    (block,) = rule["to"]
    assert set(block["ipBlock"]["except"]) == METADATA_AND_CGNAT


def test_an_extra_rule_keeps_its_own_exceptions_and_gains_the_metadata_ranges_it_holds(
    tmp_path: Path,
) -> None:
    rule = {"to": [{"ipBlock": {"cidr": "168.63.0.0/16", "except": ["168.63.1.0/24"]}}]}
    values = extra_rules(tmp_path, "singleuser", [rule])
    rules = egress(DEV_VALUES, LAB_POLICY, extra=(values,))
    (block,) = [r["to"][0]["ipBlock"] for r in rules if r["to"][0].get("ipBlock", {}).get(
        "cidr") == "168.63.0.0/16"]  # fmt: skip
    assert block["except"] == ["168.63.1.0/24", "168.63.129.16/32"]


@pytest.mark.parametrize(
    ("cidr", "inside"),
    [("169.254.169.254/32", "169.254.0.0/16"), ("100.100.100.200/30", "100.64.0.0/10")],
)
def test_an_extra_rule_to_a_metadata_address_is_refused(
    tmp_path: Path, cidr: str, inside: str
) -> None:
    values = extra_rules(tmp_path, "singleuser", [{"to": [{"ipBlock": {"cidr": cidr}}]}])
    error = render_error(DEV_VALUES, values)
    assert f"networkPolicy.singleuser.egress[0]: {cidr} lies inside" in error
    assert inside in error


@pytest.mark.parametrize(
    "rule",
    [
        {"ports": [{"port": 443}]},
        {"to": []},
        {"to": [{"ipBlock": {"cidr": "fd00:ec2::254/128"}}]},
        {"to": [{"ipBlock": {"cidr": "10.0.0.0"}}]},
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]},
        {"to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}], "ports": [{"port": 70000}]},
    ],
    ids=["no-destinations", "empty-destinations", "ipv6", "no-prefix", "ip-and-pods", "port"],
)
def test_malformed_extra_rules_are_refused_by_the_schema(
    tmp_path: Path, rule: dict[str, Any]
) -> None:
    values = extra_rules(tmp_path, "hub", [rule])
    assert "networkPolicy.hub.egress" in render_error(DEV_VALUES, values).replace("/", ".")
