"""The hub's metrics in the kind cluster: a pod of the scraper namespace with the scraper labels
fetches /hub/metrics from the hub Service with the chart's scraper token; without the token the
hub refuses it, and the hub's NetworkPolicy refuses a pod of another namespace with the same
labels and a pod of the scraper namespace without them.

Needs what helm/tests/test_cluster_install.py needs (the cluster up, the hub, proxy and lab-base
images built from this tree). The release and the test's namespaces are removed after.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import yaml
from cluster_kube import output_or_nothing, pod_manifest, running_pod, wait_until
from test_cluster_install import installed_hub_api, release_values

from tools.kube import Kubectl

pytestmark = pytest.mark.cluster

NAMESPACE = "hub-metrics-e2e"
RELEASE = "hm"
SCRAPERS = "hub-metrics-scrapers"
OTHER = "hub-metrics-other"
SCRAPER_LABELS = {"app.kubernetes.io/name": "prometheus"}
HUB = f"{RELEASE}-jupyterhub-k8s-hub"
HUB_ADDRESS = f"{HUB}.{NAMESPACE}.svc.cluster.local"
POLICY_WAIT_S = 60
FETCH_TIMEOUT_S = 5


@pytest.fixture(scope="module")
def hub(kube: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The release's scraper token, once the hub answers."""
    chart_values = release_values()
    chart_values["networkPolicy"] = {
        "hub": {"metricsScrapers": {"namespace": SCRAPERS, "podLabels": SCRAPER_LABELS}}
    }
    overrides = tmp_path_factory.mktemp("hub-metrics") / "values.yaml"
    overrides.write_text(yaml.safe_dump(chart_values))
    for namespace in (SCRAPERS, OTHER):
        kube("create", "namespace", namespace)
    try:
        with installed_hub_api(overrides, release=RELEASE, namespace=NAMESPACE):
            secret = kube.get("secret", "-n", NAMESPACE, f"{HUB}-metrics")
            yield base64.b64decode(secret["data"]["token"]).decode()
    finally:
        for namespace in (SCRAPERS, OTHER):
            kube("delete", "namespace", namespace, "--timeout=120s", timeout=150)


def client(kube: Kubectl, namespace: str, name: str, labels: dict[str, str]) -> str:
    kube.apply(pod_manifest(name, namespace, labels=labels))
    running_pod(kube, namespace, name)
    return name


def fetch_metrics(kube: Kubectl, namespace: str, pod: str, token: str | None) -> str:
    """The hub's HTTP answer to GET /hub/metrics from the pod, "" when the pod cannot connect
    (the test image has no HTTP client: an HTTP/1.0 request over bash's /dev/tcp)."""
    authorization = f"Authorization: Bearer {token}\\r\\n" if token else ""
    request = f"GET /hub/metrics HTTP/1.0\\r\\nHost: {HUB_ADDRESS}\\r\\n{authorization}\\r\\n"
    return output_or_nothing(
        kube, "exec", "-n", namespace, pod, "--",
        "timeout", str(FETCH_TIMEOUT_S), "bash", "-c",
        f"exec 3<>/dev/tcp/{HUB_ADDRESS}/8081 && printf '{request}' >&3 && cat <&3",
    )  # fmt: skip


def status_line(answer: str) -> str:
    """The answer's first line (kubectl's output comes with its line ends translated)."""
    return answer.splitlines()[0].strip() if answer else ""


def test_the_scraper_reads_metrics_and_other_pods_are_refused(kube: Kubectl, hub: str) -> None:
    scraper = client(kube, SCRAPERS, "scraper", SCRAPER_LABELS)
    answer = wait_until(
        "the scraper to fetch /hub/metrics",
        lambda: fetch_metrics(kube, SCRAPERS, scraper, hub),
        timeout=POLICY_WAIT_S,
    )
    assert status_line(answer).endswith("200 OK"), answer[:500]
    assert "\njupyterhub_running_servers " in answer
    assert "\njupyterhub_total_users " in answer

    # The token matters: the hub answers the scraper's pod, and refuses it without one.
    assert status_line(fetch_metrics(kube, SCRAPERS, scraper, None)).endswith("403 Forbidden")

    # Another namespace with the scraper's labels, and the scraper namespace without them,
    # never reach the hub's port: no answer at all, token or not.
    outsider = client(kube, OTHER, "outsider", SCRAPER_LABELS)
    unlabelled = client(kube, SCRAPERS, "unlabelled", {})
    for namespace, pod in ((OTHER, outsider), (SCRAPERS, unlabelled)):
        assert fetch_metrics(kube, namespace, pod, hub) == "", f"{namespace}/{pod} reached the hub"
    # The refusal is the policy's: the scraper still reads the metrics after.
    assert status_line(fetch_metrics(kube, SCRAPERS, scraper, hub)).endswith("200 OK")
