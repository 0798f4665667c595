"""Reading metric names off PromQL, and the dashboard's queries by exporter."""

from __future__ import annotations

import pytest

from tools import grafana_dashboard
from tools.grafana_dashboard import UncheckableQuery, metric_names, names_by_source


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("jupyterhub_running_servers", {"jupyterhub_running_servers"}),
        ('jupyterhub_active_users{period="24h"}', {"jupyterhub_active_users"}),
        (
            "histogram_quantile(0.9, sum by (le, handler) "
            "(rate(jupyterhub_request_duration_seconds_bucket[$__rate_interval])))",
            {"jupyterhub_request_duration_seconds_bucket"},
        ),
        # Grouping after the aggregation, a label list, a ratio of two metrics.
        (
            "sum(rate(a_total[5m])) by (code) / ignoring(code) group_left sum(rate(b_total[5m]))",
            {"a_total", "b_total"},
        ),
        # Strings may hold anything that looks like a metric, braces or brackets.
        ('up{job="x{y}", pod=~"lab-[a-z]+"} offset 1h', {"up"}),
        (
            "DCGM_FI_DEV_FB_USED > 1e3 and on (pod) DCGM_FI_DEV_GPU_UTIL > 0.5",
            {"DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_UTIL"},
        ),
        ("rate(x:recorded:sum5m[1h30m])", {"x:recorded:sum5m"}),
        ("vector(1) + time()", set()),
    ],
)
def test_metric_names_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_a_name_matcher_is_refused_rather_than_read_wrong() -> None:
    with pytest.raises(UncheckableQuery, match="__name__"):
        metric_names('{__name__=~"jupyterhub_.*"}')


def dashboard(*exprs: str) -> dict:
    row = {"type": "row", "panels": [{"title": "nested", "targets": [{"expr": exprs[-1]}]}]}
    return {"panels": [{"title": "top", "targets": [{"expr": e} for e in exprs[:-1]]}, row]}


def test_names_by_source_reads_nested_panels_and_sorts_by_exporter() -> None:
    found = names_by_source(dashboard("jupyterhub_total_users", "DCGM_FI_DEV_FB_FREE"))
    assert found == {"hub": {"jupyterhub_total_users"}, "gpu": {"DCGM_FI_DEV_FB_FREE"}}


def test_a_metric_of_no_known_exporter_is_refused() -> None:
    with pytest.raises(ValueError, match="panel 'nested': node_load1"):
        names_by_source(dashboard("jupyterhub_total_users", "node_load1"))


def test_the_dashboard_queries_hub_and_gpu_metrics() -> None:
    found = names_by_source(grafana_dashboard.load())
    assert "jupyterhub_running_servers" in found["hub"]
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"} <= found["gpu"]
