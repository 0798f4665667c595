"""proxy.https in kind: the chart's proxy serves a TLS Secret's certificate, as rendered.

Applies only the chart's proxy (its Deployment, Services, NetworkPolicy and the hub Secret that
holds the proxy's token) with a certificate of the run's CA, in a namespace of its own that is
removed afterwards; no hub is needed to see TLS at the proxy. Clients reach the proxy's node
ports on a node's address (the kind network), so the NetworkPolicy is in the path, and they reach
it by the hub's name, trusting only the run's CA. Needs `python -m devenv.cluster up` and the
configurable-http-proxy image (`python -m tools.images build configurable-http-proxy`).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from chart_render import DEV_VALUES, RELEASE, render

from devenv import cluster, cluster_config, tls
from devenv.dev_env import dev_lab_keys, image_values
from devenv.host_names import HostRoute, resolve_in_process
from tools.images import lock

pytestmark = pytest.mark.cluster

NAMESPACE = "tls-test"
SECRET = "hub-campus-test-tls"
HUB = "https://hub.campus.test"
CLUSTER = cluster_config.current()
KUBECTL = CLUSTER.kubectl.in_namespace(NAMESPACE)
PROXY = f"{RELEASE}-jupyterhub-k8s-proxy"
PUBLIC = f"{RELEASE}-jupyterhub-k8s-proxy-public"
# What the proxy needs of the chart; the hub itself is not installed.
PROXY_OBJECTS = {
    ("Deployment", PROXY),
    ("Service", PUBLIC),
    ("Service", f"{RELEASE}-jupyterhub-k8s-proxy-api"),
    ("NetworkPolicy", PROXY),
    ("Secret", f"{RELEASE}-jupyterhub-k8s-hub"),
}


def proxy_manifests(values_file: Path) -> list[dict[str, Any]]:
    return [
        manifest
        for manifest in render(DEV_VALUES, values_file)
        if (manifest["kind"], manifest["metadata"]["name"]) in PROXY_OBJECTS
    ]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tls.RunCA:
    return tls.ensure(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def node_ports(ca: tls.RunCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    locked = lock.read()
    if "configurable-http-proxy" not in locked:
        pytest.fail("run `python -m tools.images build configurable-http-proxy` first")
    # The nodes pull only from the local registry, by the pushed digest.
    locked = {**locked, **cluster.push_images(["configurable-http-proxy"])}
    values = {
        "proxy": {
            **image_values(locked, dev_lab_keys())["proxy"],
            # Node ports of Kubernetes' choosing: the dev hub may hold the fixed one.
            "service": {"type": "NodePort", "nodePort": None},
            "https": {"enabled": True, "hosts": ["hub.campus.test"], "secret": {"name": SECRET}},
        }
    }
    values_file = tmp_path_factory.mktemp("values") / "https.yaml"
    values_file.write_text(yaml.safe_dump(values))
    CLUSTER.kubectl("create", "namespace", NAMESPACE)
    try:
        site = ca.site("hub")
        KUBECTL(
            "create", "secret", "tls", SECRET,
            f"--cert={site.cert_file}", f"--key={site.key_file}",
        )  # fmt: skip
        KUBECTL.apply({"apiVersion": "v1", "kind": "List", "items": proxy_manifests(values_file)})
        KUBECTL.rollout_status(f"deployment/{PROXY}", 180)
        service = KUBECTL.get("service", PUBLIC)
        yield {port["name"]: port["nodePort"] for port in service["spec"]["ports"]}
    finally:
        CLUSTER.kubectl("delete", "namespace", NAMESPACE, "--timeout=300s", timeout=330)


@pytest.fixture(scope="module")
def node_address() -> str:
    node = f"{CLUSTER.name}-control-plane"
    addresses = CLUSTER.kubectl.get("node", node)["status"]["addresses"]
    return next(a["address"] for a in addresses if a["type"] == "InternalIP")


@pytest.fixture(scope="module")
def routed(node_ports: dict, node_address: str) -> Iterator[None]:
    saved = socket.getaddrinfo
    resolve_in_process(
        [
            HostRoute("hub.campus.test", 443, node_ports["https"], node_address),
            HostRoute("hub.campus.test", 80, node_ports["http"], node_address),
        ]
    )
    yield
    socket.getaddrinfo = saved


def get(url: str, context: ssl.SSLContext | None) -> tuple[int, str]:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10, context=context) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (urllib.error.URLError, ConnectionError) as error:
            if isinstance(getattr(error, "reason", None), ssl.SSLError) or (
                time.monotonic() > deadline
            ):
                raise
            time.sleep(1)


def test_the_proxy_answers_over_https_with_the_secrets_certificate(
    routed: None, ca: tls.RunCA
) -> None:
    status, _ = get(f"{HUB}/_chp_healthz", ca.client_context())
    assert status == 200


def test_a_client_without_the_ca_is_refused(routed: None) -> None:
    with pytest.raises(urllib.error.URLError) as raised:
        get(f"{HUB}/_chp_healthz", ssl.create_default_context())
    assert isinstance(raised.value.reason, ssl.SSLCertVerificationError)


def test_plain_http_is_redirected_to_https(routed: None) -> None:
    connection = http.client.HTTPConnection("hub.campus.test", 80, timeout=10)
    try:
        connection.request("GET", "/hub/login?next=%2Fhub%2Fhome")
        response = connection.getresponse()
    finally:
        connection.close()
    assert response.status == 301
    # CHP names the port (https://hub.campus.test:443/...): the same URL as without it.
    location = urlsplit(response.getheader("Location"))
    assert (location.scheme, location.hostname, location.port or 443) == (
        "https",
        "hub.campus.test",
        443,
    )
    assert (location.path, location.query) == ("/hub/login", "next=%2Fhub%2Fhome")
