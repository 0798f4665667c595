"""The hub's /hub/metrics as the chart configures it: only the metrics scraper's token reads it,
that token reads nothing else, and every hub metric the Grafana dashboard queries is served."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from hub_fakes import (
    DEPLOYMENT,
    chart_values_fixture,  # noqa: F401 - pytest fixtures, used by name
)
from hub_in_process import HubUnderTest, running_hub
from jupyterhub.tests.utils import AsyncSession
from prometheus_client.parser import text_string_to_metric_families
from test_spawn_through_hub import start, stop

from tools import grafana_dashboard

METRICS_TOKEN = "fedcba9876543210" * 4
SCRAPER = dataclasses.replace(DEPLOYMENT, metrics_token=METRICS_TOKEN)
GROUPS = {"students": ["stu"]}


@pytest.fixture
async def hub(chart_values: dict) -> AsyncIterator[HubUnderTest]:
    async with running_hub(chart_values, GROUPS, deployment=SCRAPER) as running:
        yield running


async def scrape(hub: HubUnderTest, token: str | None = METRICS_TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await AsyncSession().get(hub.url("metrics"), headers=headers)
    return response.status_code, response.text


def served_names(exposition: str) -> set[str]:
    """Names of the samples in a Prometheus text exposition (histograms' _bucket, _count, ...)."""
    return {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


async def test_every_hub_metric_of_the_dashboard_is_served_after_a_spawn(
    hub: HubUnderTest,
) -> None:
    # Spawn and request histograms have samples only once something was observed.
    await start(hub, "stu")
    await stop(hub, "stu")
    status, text = await scrape(hub)
    assert status == 200, text
    wanted = grafana_dashboard.names_by_source(grafana_dashboard.load())["hub"]
    assert wanted, "the dashboard queries no hub metric"
    missing = wanted - served_names(text)
    assert not missing, f"the dashboard queries metrics the hub does not serve: {sorted(missing)}"


async def test_metrics_need_the_scrapers_token(hub: HubUnderTest) -> None:
    assert (await scrape(hub, token=None))[0] == 403
    assert (await scrape(hub, token="0" * 64))[0] == 403


async def test_the_scrapers_token_reads_metrics_and_nothing_else(hub: HubUnderTest) -> None:
    headers = {"Authorization": f"token {METRICS_TOKEN}"}
    users = await AsyncSession().get(hub.url("api/users"), headers=headers)
    assert users.status_code == 403


async def test_without_authenticate_prometheus_anyone_reads_metrics(chart_values: dict) -> None:
    chart_values["hub"]["authenticatePrometheus"] = False
    async with running_hub(chart_values, GROUPS, deployment=SCRAPER) as hub:
        status, text = await scrape(hub, token=None)
        assert status == 200
        assert "jupyterhub_running_servers" in served_names(text)
        # No scraper service is registered when the metrics are open.
        assert [service["name"] for service in hub.app.services] == ["tester"]
