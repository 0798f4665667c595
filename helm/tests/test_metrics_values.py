"""The hub's metrics are scrapeable as the values say: the hub Service's prometheus.io
annotations, the optional ServiceMonitor (only where the cluster has its API), the scraper's
token Secret, and the hub NetworkPolicy rule that admits the scraper to the hub's port only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from chart_render import (
    DEV_VALUES,
    HELM_DIR,
    PRODUCTION_VALUES,
    RELEASE,
    find,
    render,
    render_error,
)

from hubconfig.values import describe_errors

HUB = f"{RELEASE}-jupyterhub-k8s-hub"
METRICS_SECRET = f"{HUB}-metrics"
SERVICE_MONITOR_API = ("monitoring.coreos.com/v1/ServiceMonitor",)
MONITOR_ON = ("metrics.serviceMonitor.enabled=true",)
MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}


def kinds(manifests: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(m["kind"], m["metadata"]["name"]) for m in manifests}


def hub_env(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    deployment = find(manifests, "Deployment", HUB)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container["env"]


def scraper_rules(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ingress rules of the hub's policy other than the proxy's and the labs' rule."""
    ingress = find(manifests, "NetworkPolicy", HUB)["spec"]["ingress"]
    return [rule for rule in ingress if all("namespaceSelector" in p for p in rule["from"])]


@pytest.mark.parametrize("values_file", [DEV_VALUES, PRODUCTION_VALUES])
def test_the_hub_service_carries_the_scrape_annotations(values_file) -> None:
    service = find(render(values_file), "Service", HUB)
    assert service["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/path": "/hub/metrics",
        "prometheus.io/port": "8081",
    }
    (port,) = service["spec"]["ports"]
    assert port["port"] == 8081


def test_the_scrape_path_follows_the_base_url() -> None:
    manifests = render(
        DEV_VALUES, sets=("hub.baseUrl=/jupyter/",), api_versions=SERVICE_MONITOR_API
    )
    assert find(manifests, "Service", HUB)["metadata"]["annotations"]["prometheus.io/path"] == (
        "/jupyter/hub/metrics"
    )
    manifests = render(
        DEV_VALUES, sets=("hub.baseUrl=/jupyter/", *MONITOR_ON), api_versions=SERVICE_MONITOR_API
    )
    (endpoint,) = find(manifests, "ServiceMonitor", HUB)["spec"]["endpoints"]
    assert endpoint["path"] == "/jupyter/hub/metrics"


def test_no_service_monitor_unless_enabled() -> None:
    manifests = render(DEV_VALUES, api_versions=SERVICE_MONITOR_API)
    assert not [m for m in manifests if m["kind"] == "ServiceMonitor"]


def test_the_service_monitor_scrapes_the_hub_with_the_scrapers_token() -> None:
    sets = (
        *MONITOR_ON,
        "metrics.serviceMonitor.interval=1m",
        "metrics.serviceMonitor.labels.release=kps",
    )
    manifests = render(PRODUCTION_VALUES, sets=sets, api_versions=SERVICE_MONITOR_API)
    monitor = find(manifests, "ServiceMonitor", HUB)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kps"
    service = find(manifests, "Service", HUB)
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [
        {
            "port": "http",
            "path": "/hub/metrics",
            "interval": "1m",
            "authorization": {
                "type": "Bearer",
                "credentials": {"name": METRICS_SECRET, "key": "token"},
            },
        }
    ]


def test_the_chart_labels_win_over_service_monitor_labels() -> None:
    sets = (*MONITOR_ON, "metrics.serviceMonitor.labels.app\\.kubernetes\\.io/instance=other")
    monitor = find(
        render(DEV_VALUES, sets=sets, api_versions=SERVICE_MONITOR_API), "ServiceMonitor", HUB
    )
    assert monitor["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE


def test_a_service_monitor_without_the_operators_api_is_refused() -> None:
    message = render_error(DEV_VALUES, sets=MONITOR_ON)
    assert (
        "metrics.serviceMonitor.enabled is true but the cluster has no monitoring.coreos.com/v1"
        in message
    )
    assert "metrics.serviceMonitor.checkApi=false" in message


def test_the_operator_may_skip_the_api_check() -> None:
    manifests = render(DEV_VALUES, sets=(*MONITOR_ON, "metrics.serviceMonitor.checkApi=false"))
    assert ("ServiceMonitor", HUB) in kinds(manifests)


def test_the_scrapers_token_reaches_the_hub_from_its_own_secret() -> None:
    manifests = render(PRODUCTION_VALUES)
    secret = find(manifests, "Secret", METRICS_SECRET)
    assert set(secret["data"]) == {"token"}
    assert {
        "name": "JUPYTERHUB_K8S_METRICS_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": METRICS_SECRET, "key": "token"}},
    } in hub_env(manifests)


def test_open_metrics_need_no_token() -> None:
    sets = ("hub.authenticatePrometheus=false", *MONITOR_ON)
    manifests = render(DEV_VALUES, sets=sets, api_versions=SERVICE_MONITOR_API)
    assert ("Secret", METRICS_SECRET) not in kinds(manifests)
    assert not [v for v in hub_env(manifests) if v["name"] == "JUPYTERHUB_K8S_METRICS_TOKEN"]
    (endpoint,) = find(manifests, "ServiceMonitor", HUB)["spec"]["endpoints"]
    assert "authorization" not in endpoint


@pytest.mark.parametrize("values_file", [DEV_VALUES, PRODUCTION_VALUES])
def test_the_scraper_namespace_reaches_the_hubs_port_only(values_file) -> None:
    manifests = render(values_file)
    assert scraper_rules(manifests) == [{"ports": [{"port": "http"}], "from": [MONITORING]}]
    ports = find(manifests, "Deployment", HUB)["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"name": "http", "containerPort": 8081}]


def test_scraper_pods_chosen_by_label_in_their_namespace() -> None:
    sets = (
        "networkPolicy.hub.metricsScrapers.namespace=observability",
        "networkPolicy.hub.metricsScrapers.podLabels.app\\.kubernetes\\.io/name=prometheus",
    )
    (rule,) = scraper_rules(render(DEV_VALUES, sets=sets))
    # One peer with both selectors: those pods of that namespace, not either.
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]


def test_no_scraper_rule_when_disabled() -> None:
    sets = ("networkPolicy.hub.metricsScrapers.enabled=false",)
    assert scraper_rules(render(DEV_VALUES, sets=sets)) == []


@pytest.mark.parametrize(
    ("values", "located"),
    [
        (
            {"networkPolicy": {"hub": {"metricsScrapers": {"namespace": "Bad Name"}}}},
            "networkPolicy.hub.metricsScrapers.namespace",
        ),
        (
            {"networkPolicy": {"hub": {"metricsScrapers": {"namespace": ""}}}},
            "networkPolicy.hub.metricsScrapers.namespace",
        ),
        (
            {"networkPolicy": {"hub": {"metricsScrapers": {"podLabels": {"a": 1}}}}},
            "networkPolicy.hub.metricsScrapers.podLabels.a",
        ),
        ({"metrics": {"serviceMonitor": {"interval": "soon"}}}, "metrics.serviceMonitor.interval"),
        (
            {"metrics": {"serviceMonitor": {"labels": {"release": None}}}},
            "metrics.serviceMonitor.labels.release",
        ),
        ({"hub": {"authenticatePrometheus": "yes"}}, "hub.authenticatePrometheus"),
        ({"metrics": {"prometheus": True}}, "metrics"),
    ],
)
def test_bad_metrics_values_are_refused_naming_the_key(values: dict, located: str) -> None:
    problems = describe_errors(values)
    assert [p for p in problems if p.startswith(f"{located}:")], problems


def test_the_monitoring_guides_values_install(tmp_path) -> None:
    """docs/monitoring.md's values block, as a campus would copy it."""
    guide = (HELM_DIR.parent / "docs" / "monitoring.md").read_text()
    (block,) = re.findall(r"```yaml\n(# values.*?)```", guide, flags=re.DOTALL)
    values = tmp_path / "monitoring.yaml"
    values.write_text(block)
    manifests = render(PRODUCTION_VALUES, values, api_versions=SERVICE_MONITOR_API)
    assert find(manifests, "ServiceMonitor", HUB)["metadata"]["labels"]["release"] == "kps"
    (rule,) = scraper_rules(manifests)
    assert rule["from"][0]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "prometheus"}
    }
