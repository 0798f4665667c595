"""LTI launches handled by one hub process: launches/s and p50/p95 latency.

Not a test: a measurement for the release notes. It starts one `jupyterhub`
(MultiLoginAuthenticator, no proxy, SQLite, a local spawner that never spawns: auth only) and a
Moodle-like LTI 1.3 platform (JWKS served from this process), then drives LTI 1.1 launches (one
signed POST) and LTI 1.3 launches (login initiation, then the id_token POST):

- closed loop: 1, 10 and 50 clients, each starting its next launch when the last one ended;
- lecture: launches arriving at a fixed rate (default 300 in a minute), the issue's target
  (p95 under 1 s).

Every launch is a different student, so each one also creates its user: the first lecture of a
term. `--returning` launches students who already exist instead.

    .venv/bin/python authenticators/benchmarks/lti_launches.py [--launches 300] [--json out.json]

Latency is the hub's answer time (both requests for LTI 1.3); the client's own signing is left
out of it but not out of launches/s, and the client shares the machine's CPUs with the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host_platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from itertools import count
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from multilogin_harness import (
    HubProcess,
    LTI13Platform,
    form,
    free_port,
    moodle_lti11_params,
    sign_lti11,
)
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

CONSUMER_KEY = "bench-key"
CONSUMER_SECRET = "bench-secret"  # noqa: S105 - a throwaway secret for a local hub
# The benchmark's Moodle is the campus Moodle: its launches land in accounts by username.
CAMPUS_MOODLE_TRUST = {
    "name": "moodle",
    "authoritative_usernames": "[a-z0-9-]+",
    # No Keycloak here to link with.
    "unlinked_identities": "refuse",
}

Launch = Callable[[AsyncHTTPClient, int], Awaitable[float]]
Users = Callable[[], int]


def _cookies(response: HTTPResponse) -> str:
    jar = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())


async def _post(client: AsyncHTTPClient, url: str, body: str, cookie: str = "") -> HTTPResponse:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie:
        headers["Cookie"] = cookie
    response = await client.fetch(
        url, method="POST", body=body, headers=headers, follow_redirects=False, raise_error=False
    )
    if response.code != 302:
        raise RuntimeError(f"{url}: HTTP {response.code}: {response.body[:300]!r}")
    return response


def lti11_launcher(hub: HubProcess) -> Launch:
    url = hub.url("lti/launch")

    async def launch(client: AsyncHTTPClient, index: int) -> float:
        params = moodle_lti11_params(username=f"lti11-student-{index:05d}")
        body = sign_lti11(url, params, CONSUMER_KEY, CONSUMER_SECRET)
        started = time.perf_counter()
        await _post(client, url, body)
        return time.perf_counter() - started

    return launch


def lti13_launcher(hub: HubProcess, platform: LTI13Platform) -> Launch:
    login_url, callback_url = hub.url("lti13/oauth_login"), hub.url("lti13/oauth_callback")

    async def launch(client: AsyncHTTPClient, index: int) -> float:
        started = time.perf_counter()
        init = await _post(
            client, login_url, form(platform.login_initiation(hub.url("lti/launch")))
        )
        first = time.perf_counter() - started
        query = parse_qs(urlparse(init.headers["Location"]).query)
        claims = platform.claims(query["nonce"][0], username=f"lti13-student-{index:05d}")
        body = form({"id_token": platform.id_token(claims), "state": query["state"][0]})
        started = time.perf_counter()
        await _post(client, callback_url, body, _cookies(init))
        return first + time.perf_counter() - started

    return launch


def _summary(latencies: list[float], launches: int, wall: float) -> dict:
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "launches": launches,
        "wall_s": round(wall, 2),
        "launches_per_s": round(launches / wall, 1),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p95_ms": round(quantiles[94] * 1000, 1),
    }


async def _drive(launch: Launch, launches: int, concurrency: int, users: Users) -> list[float]:
    """Run `launches` launches from `concurrency` clients; their latencies."""
    client = AsyncHTTPClient()
    latencies: list[float] = []
    remaining = iter(range(launches))

    async def worker() -> None:
        for _ in remaining:
            latencies.append(await launch(client, users()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def closed_loop(launch: Launch, launches: int, concurrency: int, users: Users) -> dict:
    started = time.perf_counter()
    latencies = await _drive(launch, launches, concurrency, users)
    wall = time.perf_counter() - started
    return {"mode": f"{concurrency} clients", **_summary(latencies, launches, wall)}


async def lecture(launch: Launch, launches: int, per_minute: int, users: Users) -> dict:
    """Launches start at a steady rate, whether or not earlier ones have finished."""
    client = AsyncHTTPClient()
    interval = 60.0 / per_minute
    started = time.perf_counter()

    async def launch_at(index: int) -> float:
        await asyncio.sleep(started + index * interval - time.perf_counter())
        return await launch(client, users())

    latencies = await asyncio.gather(*(launch_at(i) for i in range(launches)))
    wall = time.perf_counter() - started
    return {"mode": f"{per_minute}/min", **_summary(list(latencies), launches, wall)}


async def run(launches: int, levels: list[int], per_minute: int, returning: bool) -> list[dict]:
    AsyncHTTPClient.configure(None, max_clients=max([*levels, 100]))
    platform = LTI13Platform()
    platform.serve_jwks()
    with tempfile.TemporaryDirectory(prefix="multilogin-bench-") as workdir:
        hub = HubProcess(
            Path(workdir),
            free_port(),
            base_url="/bench/",
            settings={
                "MultiLoginAuthenticator": {"enable_keycloak": False},
                "LTI11Login": {
                    "consumers": {CONSUMER_KEY: CONSUMER_SECRET},
                    "consumer_trust": {CONSUMER_KEY: CAMPUS_MOODLE_TRUST},
                },
                "LTI13Login": {"platforms": [{**platform.trusted_entry(), **CAMPUS_MOODLE_TRUST}]},
            },
        )
        await asyncio.to_thread(hub.start)
        try:
            kinds = {"lti11": lti11_launcher(hub), "lti13": lti13_launcher(hub, platform)}
            numbers = count()
            users: Users = (lambda: next(numbers) % launches) if returning else numbers.__next__
            # Not measured: imports, the JWKS fetch, the nonce table, and (--returning) the users.
            for launch in kinds.values():
                await _drive(launch, launches if returning else 1, 10, users)
            results = []
            for kind, launch in kinds.items():
                runs = [closed_loop(launch, launches, c, users) for c in levels]
                runs.append(lecture(launch, launches, per_minute, users))
                for measurement in runs:
                    result = {"kind": kind, "returning": returning, **await measurement}
                    print(json.dumps(result), flush=True)
                    results.append(result)
            return results
        finally:
            hub.stop()
            platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=300, help="launches per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--per-minute", type=int, default=300, help="arrival rate, lecture run")
    parser.add_argument("--returning", action="store_true", help="students who already exist")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    results = asyncio.run(run(args.launches, args.concurrency, args.per_minute, args.returning))
    print(f"\n{'kind':6} {'load':>12} {'launches/s':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for r in results:
        print(
            f"{r['kind']:6} {r['mode']:>12} {r['launches_per_s']:>10} "
            f"{r['p50_ms']:>8} {r['p95_ms']:>8}"
        )
    if args.json:
        host = {"machine": host_platform.machine(), "cpus": os.cpu_count()}
        args.json.write_text(json.dumps({"host": host, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
