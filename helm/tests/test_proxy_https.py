"""proxy.https: configurable-http-proxy terminates TLS with an existing Secret (z2jh's `secret`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import DEV_VALUES, PRODUCTION_VALUES, RELEASE, find, render, render_error

PROXY = f"{RELEASE}-jupyterhub-k8s-proxy"
PUBLIC = f"{RELEASE}-jupyterhub-k8s-proxy-public"
HTTPS = (
    "proxy.https.enabled=true",
    "proxy.https.secret.name=hub-campus-test-tls",
    "proxy.https.hosts={hub.campus.test}",
)


def values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "https.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def chp(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    pod = find(manifests, "Deployment", PROXY)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return {"pod": pod, "container": container}


def test_the_proxy_serves_the_secrets_certificate_and_redirects_http() -> None:
    proxy = chp(render(DEV_VALUES, sets=HTTPS))
    command = proxy["container"]["command"]
    assert "--port=8443" in command
    assert "--redirect-port=8000" in command
    assert "--redirect-to=443" in command
    assert "--ssl-key=/etc/chp/tls/tls.key" in command
    assert "--ssl-cert=/etc/chp/tls/tls.crt" in command
    assert "--port=8000" not in command
    (volume,) = proxy["pod"]["volumes"]
    assert volume["secret"]["secretName"] == "hub-campus-test-tls"
    (mount,) = proxy["container"]["volumeMounts"]
    assert (mount["name"], mount["mountPath"], mount["readOnly"]) == (
        volume["name"],
        "/etc/chp/tls",
        True,
    )


def test_other_secret_keys_are_the_files_the_proxy_reads() -> None:
    sets = (*HTTPS, "proxy.https.secret.key=server.key", "proxy.https.secret.crt=chain.pem")
    command = chp(render(DEV_VALUES, sets=sets))["container"]["command"]
    assert "--ssl-key=/etc/chp/tls/server.key" in command
    assert "--ssl-cert=/etc/chp/tls/chain.pem" in command


def test_probes_ask_over_https() -> None:
    container = chp(render(DEV_VALUES, sets=HTTPS))["container"]
    for probe in ("livenessProbe", "readinessProbe"):
        check = container[probe]["httpGet"]
        assert (check["port"], check["scheme"]) == ("https", "HTTPS"), probe
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"https": 8443, "http": 8000, "api": 8001}


def test_the_public_service_offers_443_and_80() -> None:
    sets = (*HTTPS, "proxy.service.httpsNodePort=30443")
    service = find(render(DEV_VALUES, sets=sets), "Service", PUBLIC)["spec"]
    ports = {port["name"]: port for port in service["ports"]}
    assert (ports["https"]["port"], ports["https"]["targetPort"]) == (443, "https")
    assert ports["https"]["nodePort"] == 30443
    assert (ports["http"]["port"], ports["http"]["targetPort"]) == (80, "http")
    assert ports["http"]["nodePort"] == 30080


def test_the_network_policy_admits_the_https_port() -> None:
    policy = find(render(DEV_VALUES, sets=HTTPS), "NetworkPolicy", PROXY)
    public = policy["spec"]["ingress"][0]
    assert "from" not in public
    assert {port["port"] for port in public["ports"]} == {"https", "http"}


def test_without_https_nothing_changes() -> None:
    manifests = render(DEV_VALUES)
    proxy = chp(manifests)
    assert "--port=8000" in proxy["container"]["command"]
    assert not any(arg.startswith("--ssl") for arg in proxy["container"]["command"])
    assert "volumes" not in proxy["pod"]
    assert proxy["container"]["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
    service = find(manifests, "Service", PUBLIC)["spec"]
    assert [port["name"] for port in service["ports"]] == ["http"]


def test_https_without_a_secret_is_refused() -> None:
    sets = ("proxy.https.enabled=true", "proxy.https.hosts={hub.campus.test}")
    assert "proxy.https.secret.name is empty" in render_error(DEV_VALUES, sets=sets)


def test_https_without_hosts_is_refused() -> None:
    sets = ("proxy.https.enabled=true", "proxy.https.secret.name=tls")
    assert "proxy.https.hosts is empty" in render_error(DEV_VALUES, sets=sets)


def test_https_and_an_ingress_together_are_refused() -> None:
    message = render_error(PRODUCTION_VALUES, sets=HTTPS)
    assert "proxy.https.enabled and ingress.enabled both terminate HTTPS" in message


@pytest.mark.parametrize(
    ("subdomain_host", "hosts", "expected"),
    [
        (
            "http://hub.campus.test",
            ["hub.campus.test", "*.hub.campus.test"],
            "users' servers must be on https:// too",
        ),
        (
            "https://hub.campus.test",
            ["hub.campus.test"],
            "proxy.https.hosts does not list *.hub.campus.test",
        ),
    ],
)
def test_user_subdomains_need_https_and_the_wildcard(
    tmp_path: Path, subdomain_host: str, hosts: list[str], expected: str
) -> None:
    values = {
        "hub": {"config": {"JupyterHub": {"subdomain_host": subdomain_host}}},
        "proxy": {"https": {"enabled": True, "hosts": hosts, "secret": {"name": "tls"}}},
    }
    assert expected in render_error(DEV_VALUES, values_file(tmp_path, values))


def test_user_subdomains_with_a_wildcard_certificate_render(tmp_path: Path) -> None:
    values = {
        "hub": {"config": {"JupyterHub": {"subdomain_host": "https://hub.campus.test"}}},
        "proxy": {
            "https": {
                "enabled": True,
                "hosts": ["hub.campus.test", "*.hub.campus.test"],
                "secret": {"name": "tls"},
            }
        },
    }
    command = chp(render(DEV_VALUES, values_file(tmp_path, values)))["container"]["command"]
    assert "--host-routing" in command
    assert "--ssl-cert=/etc/chp/tls/tls.crt" in command


@pytest.mark.parametrize(
    ("assignment", "where"),
    [
        ("proxy.https.type=letsencrypt", "/proxy/https/type"),
        ("proxy.https.secret.key=../../etc/passwd", "/proxy/https/secret/key"),
        ("proxy.https.secret.name=Not_A_Name", "/proxy/https/secret/name"),
        ("proxy.https.hosts={https://hub.campus.test}", "/proxy/https/hosts/0"),
        ("proxy.https.enable=true", "/proxy/https"),
    ],
)
def test_the_schema_rejects_wrong_https_values(assignment: str, where: str) -> None:
    assert where in render_error(DEV_VALUES, sets=(*HTTPS, assignment))
