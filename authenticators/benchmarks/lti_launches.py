"""LTI launches handled by one hub process: the project against stock ltiauthenticator.

Not a test: a measurement for the release notes. It starts `jupyterhub` processes (no proxy,
SQLite, a local spawner that never spawns: auth only) and a Moodle-like LTI 1.3 platform (JWKS
served from this process), then drives LTI 1.1 launches (one signed POST) and LTI 1.3 launches
(login initiation, then the id_token POST). Every launch is a different student into one
course, so each one also creates its user: the first lecture of a term.

Side by side (the default): per LTI version, two hubs configured alike (same consumer key and
secret or platform, auth_state encrypted in both): stock ltiauthenticator (LTI11Authenticator,
LTI13Authenticator) and MultiLoginAuthenticator with only that version's source. The two are
measured in turn over `--rounds` rounds (the order swapped each round), `--clients` concurrent
clients and `--launches` fresh students per system and round; printed per system: launches/s
and p50/p95/p99 and the hub process's CPU time per launch (medians over the rounds); and the
median of each round's ratio of launches/s (project/stock) and of CPU per launch
(stock/project: below 1 when the project costs more). On a machine shared with other work the
CPU ratio is the steadier figure.

    .venv/bin/python authenticators/benchmarks/lti_launches.py [--launches 500] [--rounds 3]

`--course-members 0 2000` measures the project alone in courses of that many members, one hub
per size (LTI 1.1, every launch a new student into the one course, the sizes measured in turn
over the rounds, the order swapped each round): hub CPU per launch and p50 per size, and the
median of each round's ratio of CPU per launch (size / the first size; 1 when a launch costs
the same whatever the course's size). The members are added as an administrator adds them (the
REST API), so the hub holds the course's member list loaded, as after a look at the admin page;
the course's membership is checked afterwards (a launch that did not join counts as failed).

`--detail` measures the project alone instead: closed loops of 1, 10 and 50 clients, and a
lecture (launches arriving at `--per-minute`, the issue's target being p95 under 1 s).
`--returning` (side by side and `--detail`) launches students who already exist: a lecture
after the first.

Every mode exits with status 1 when any launch failed.

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
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from itertools import count, cycle
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

SYSTEMS = ("stock", "project")
STOCK_AUTHENTICATORS = {
    "lti11": "ltiauthenticator.lti11.auth.LTI11Authenticator",
    "lti13": "ltiauthenticator.lti13.auth.LTI13Authenticator",
}

# Where the benchmark's LTI 1.1 launches land: course_group_format's default with the trusted
# Moodle's name and moodle_lti11_params' context_id.
COURSE_GROUP = f"course-{CAMPUS_MOODLE_TRUST['name']}.42"
WARM_UP = 10

FIGURES = ("launches_per_s", "p50_ms", "p95_ms", "p99_ms", "hub_cpu_ms_per_launch")

Launch = Callable[[AsyncHTTPClient, int], Awaitable[float]]
Users = Callable[[], int]


@dataclass
class Outcomes:
    """What the launches of one measurement came to: latencies of those that worked."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    first_failure: str = ""

    async def record(self, launch: Awaitable[float]) -> None:
        """Await one launch; a failed one is counted (and the first one kept), not raised."""
        try:
            self.latencies.append(await launch)
        except Exception as error:
            self.failures += 1
            self.first_failure = self.first_failure or f"{type(error).__name__}: {error}"


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
        username = f"lti13-student-{index:05d}"
        # Stock LTI13Authenticator reads it from here (username_key custom_username).
        custom = {"username": username}
        claims = platform.claims(query["nonce"][0], username=username, custom=custom)
        body = form({"id_token": platform.id_token(claims), "state": query["state"][0]})
        started = time.perf_counter()
        await _post(client, callback_url, body, _cookies(init))
        return first + time.perf_counter() - started

    return launch


def _summary(outcomes: Outcomes, launches: int, wall: float) -> dict:
    latencies = outcomes.latencies or [float("nan")]
    # quantiles() needs two points; one launch is its own p50 to p99.
    points = latencies * 2 if len(latencies) == 1 else latencies
    quantiles = statistics.quantiles(points, n=100, method="inclusive")
    return {
        "launches": launches,
        "failed": outcomes.failures,
        "first_failure": outcomes.first_failure,
        "wall_s": round(wall, 3),
        "launches_per_s": round(len(outcomes.latencies) / wall, 1),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p95_ms": round(quantiles[94] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
    }


async def _drive(launch: Launch, launches: int, concurrency: int, users: Users) -> Outcomes:
    """Run `launches` launches from `concurrency` clients; a failed one does not stop the rest."""
    client = AsyncHTTPClient()
    outcomes = Outcomes()
    remaining = iter(range(launches))

    async def worker() -> None:
        for _ in remaining:
            await outcomes.record(launch(client, users()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


async def closed_loop(launch: Launch, launches: int, concurrency: int, users: Users) -> dict:
    started = time.perf_counter()
    outcomes = await _drive(launch, launches, concurrency, users)
    wall = time.perf_counter() - started
    return {"mode": f"{concurrency} clients", **_summary(outcomes, launches, wall)}


async def lecture(launch: Launch, launches: int, per_minute: int, users: Users) -> dict:
    """Launches start at a steady rate, whether or not earlier ones have finished."""
    client = AsyncHTTPClient()
    interval = 60.0 / per_minute
    started = time.perf_counter()
    outcomes = Outcomes()

    async def launch_at(index: int) -> None:
        await asyncio.sleep(started + index * interval - time.perf_counter())
        await outcomes.record(launch(client, users()))

    await asyncio.gather(*(launch_at(i) for i in range(launches)))
    wall = time.perf_counter() - started
    return {"mode": f"{per_minute}/min", **_summary(outcomes, launches, wall)}


def project_settings(platform: LTI13Platform, kinds: set[str]) -> dict[str, dict]:
    """MultiLoginAuthenticator with the LTI sources in `kinds` and no Keycloak."""
    return {
        "MultiLoginAuthenticator": {
            "enable_keycloak": False,
            "enable_lti11": "lti11" in kinds,
            "enable_lti13": "lti13" in kinds,
        },
        "LTI11Login": {
            "consumers": {CONSUMER_KEY: CONSUMER_SECRET},
            "consumer_trust": {CONSUMER_KEY: CAMPUS_MOODLE_TRUST},
        },
        "LTI13Login": {"platforms": [{**platform.trusted_entry(), **CAMPUS_MOODLE_TRUST}]},
    }


def stock_settings(platform: LTI13Platform, kind: str) -> dict[str, dict]:
    """Stock ltiauthenticator for `kind`, trusting what project_settings trusts, auth_state on."""
    name = STOCK_AUTHENTICATORS[kind].rsplit(".", 1)[1]
    common = {"enable_auth_state": True, "allow_all": True}
    if kind == "lti11":
        source = {"consumers": {CONSUMER_KEY: CONSUMER_SECRET}, "username_key": "ext_user_username"}
    else:
        source = {
            "issuer": platform.issuer,
            "client_id": {platform.client_id},
            "authorize_url": f"{platform.issuer}/mod/lti/auth.php",
            "jwks_endpoint": platform.jwks_url,
            "username_key": "custom_username",
        }
    return {
        "JupyterHub": {"authenticator_class": STOCK_AUTHENTICATORS[kind]},
        name: {**common, **source},
    }


def _hub(workdir: Path, settings: dict[str, dict]) -> HubProcess:
    return HubProcess(workdir, free_port(), base_url="/bench/", settings=settings)


def _launcher(kind: str, hub: HubProcess, platform: LTI13Platform) -> Launch:
    return lti11_launcher(hub) if kind == "lti11" else lti13_launcher(hub, platform)


def compare(kind: str, rounds: list[dict]) -> dict:
    """Per system the medians over `rounds` (one measurement per system and round), and
    project/stock: the median of each round's ratio of launches/s."""
    by_system = {s: [r for r in rounds if r["system"] == s] for s in SYSTEMS}
    medians = {
        system: {
            figure: round(statistics.median(r[figure] for r in measured), 1) for figure in FIGURES
        }
        for system, measured in by_system.items()
    }
    pairs = list(zip(by_system["stock"], by_system["project"], strict=True))
    ratios = [project["launches_per_s"] / stock["launches_per_s"] for stock, project in pairs]
    cpu_ratios = [
        stock["hub_cpu_ms_per_launch"] / project["hub_cpu_ms_per_launch"]
        for stock, project in pairs
    ]
    return {
        "kind": kind,
        **medians,
        "ratio": round(statistics.median(ratios), 3),
        "cpu_ratio": round(statistics.median(cpu_ratios), 3),
    }


async def side_by_side(
    kinds: list[str],
    launches: int,
    rounds: int,
    clients: int,
    workdir: Path,
    returning: bool = False,
) -> tuple[list[dict], list[dict]]:
    """Each round's measurements and, per kind, compare()'s summary of them. `returning`:
    the same `launches` students every round, made by a warm-up launch each."""
    AsyncHTTPClient.configure(None, max_clients=max(clients, 100))
    platform = LTI13Platform()
    platform.serve_jwks()
    numbers = count()
    measured: list[dict] = []
    summaries: list[dict] = []
    try:
        for kind in kinds:
            hubs = {
                "stock": _hub(workdir / f"{kind}-stock", stock_settings(platform, kind)),
                "project": _hub(workdir / f"{kind}-project", project_settings(platform, {kind})),
            }
            await asyncio.gather(*(asyncio.to_thread(hub.start) for hub in hubs.values()))
            try:
                launchers = {s: _launcher(kind, hub, platform) for s, hub in hubs.items()}
                users = {
                    s: cycle(range(launches)).__next__ if returning else numbers.__next__
                    for s in SYSTEMS
                }
                # Not measured: imports, the JWKS fetch, the nonce table (and the students).
                for system, launch in launchers.items():
                    await _drive(launch, launches if returning else WARM_UP, 10, users[system])
                kind_rounds = []
                for index in range(rounds):
                    order = SYSTEMS if index % 2 == 0 else SYSTEMS[::-1]
                    for system in order:
                        cpu_before = hubs[system].cpu_seconds()
                        result = await closed_loop(
                            launchers[system], launches, clients, users[system]
                        )
                        cpu_ms = (hubs[system].cpu_seconds() - cpu_before) * 1000 / launches
                        result = {
                            "kind": kind,
                            "system": system,
                            "round": index + 1,
                            **result,
                            "hub_cpu_ms_per_launch": round(cpu_ms, 2),
                        }
                        print(json.dumps(result), flush=True)
                        kind_rounds.append(result)
                measured += kind_rounds
                summaries.append(compare(kind, kind_rounds))
            finally:
                for hub in hubs.values():
                    hub.stop()
    finally:
        platform.stop()
    return measured, summaries


def _fill_course(hub: HubProcess, members: int) -> None:
    """Put `members` students (who never launch) in the course group, by the REST API."""
    if members:
        names = [f"member-{n:05d}" for n in range(members)]
        hub.api("users", "POST", {"usernames": names})
        hub.api(f"groups/{COURSE_GROUP}", "POST", {"users": names})


def _course_check(hub: HubProcess, size: int, launched: int) -> dict:
    """A result counting the launches that did not join the course as failed."""
    group = hub.api(f"groups/{COURSE_GROUP}") or {"users": []}
    missing = size + launched - len(group["users"])
    return {
        "mode": "course membership",
        "course_members": size,
        "failed": max(missing, 0),
        "first_failure": f"{missing} launches not in {COURSE_GROUP}" if missing else "",
    }


async def course_sizes(
    sizes: list[int], launches: int, rounds: int, clients: int, workdir: Path
) -> tuple[list[dict], list[dict]]:
    """Each round's measurement per course size, the membership checks, and per size the
    medians over the rounds with the median ratio of CPU per launch to the first size's."""
    AsyncHTTPClient.configure(None, max_clients=max(clients, 100))
    numbers = count()
    settings = project_settings(LTI13Platform(), {"lti11"})
    hubs = {size: _hub(workdir / f"course-{size}", settings) for size in sizes}
    measured: list[dict] = []
    try:
        await asyncio.gather(*(asyncio.to_thread(hub.start) for hub in hubs.values()))
        for size, hub in hubs.items():
            await asyncio.to_thread(_fill_course, hub, size)
            await _drive(lti11_launcher(hub), WARM_UP, 10, numbers.__next__)
        for index in range(rounds):
            for size in sizes if index % 2 == 0 else sizes[::-1]:
                hub = hubs[size]
                cpu_before = hub.cpu_seconds()
                result = await closed_loop(lti11_launcher(hub), launches, clients, numbers.__next__)
                cpu_ms = (hub.cpu_seconds() - cpu_before) * 1000 / launches
                result = {
                    "kind": "lti11",
                    "course_members": size,
                    "round": index + 1,
                    **result,
                    "hub_cpu_ms_per_launch": round(cpu_ms, 2),
                }
                print(json.dumps(result), flush=True)
                measured.append(result)
        checks = [
            _course_check(hub, size, WARM_UP + rounds * launches) for size, hub in hubs.items()
        ]
    finally:
        for hub in hubs.values():
            hub.stop()
    return measured + checks, _by_course_size(sizes, measured)


def _by_course_size(sizes: list[int], measured: list[dict]) -> list[dict]:
    by_size = {size: [r for r in measured if r["course_members"] == size] for size in sizes}
    summaries = []
    for size, runs in by_size.items():
        pairs = zip(by_size[sizes[0]], runs, strict=True)
        ratios = [r["hub_cpu_ms_per_launch"] / first["hub_cpu_ms_per_launch"] for first, r in pairs]
        summaries.append(
            {
                "course_members": size,
                "hub_cpu_ms_per_launch": round(
                    statistics.median(r["hub_cpu_ms_per_launch"] for r in runs), 2
                ),
                "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 1),
                "cpu_ratio": round(statistics.median(ratios), 3),
            }
        )
    return summaries


async def run(launches: int, levels: list[int], per_minute: int, returning: bool) -> list[dict]:
    AsyncHTTPClient.configure(None, max_clients=max([*levels, 100]))
    platform = LTI13Platform()
    platform.serve_jwks()
    with tempfile.TemporaryDirectory(prefix="multilogin-bench-") as workdir:
        hub = _hub(Path(workdir), project_settings(platform, {"lti11", "lti13"}))
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


def _print_side_by_side(summaries: list[dict]) -> None:
    print(
        f"\n{'kind':6} {'system':8} {'launches/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'hub CPU ms/launch':>18}"
    )
    for summary in summaries:
        for system in SYSTEMS:
            figures = summary[system]
            print(
                f"{summary['kind']:6} {system:8} {figures['launches_per_s']:>10} "
                f"{figures['p50_ms']:>8} {figures['p95_ms']:>8} {figures['p99_ms']:>8} "
                f"{figures['hub_cpu_ms_per_launch']:>18}"
            )
        print(
            f"{summary['kind']:6} project/stock, median of rounds: launches/s {summary['ratio']}, "
            f"stock/project hub CPU per launch {summary['cpu_ratio']}"
        )


def _print_course_sizes(summaries: list[dict]) -> None:
    print(f"\n{'course members':>14} {'hub CPU ms/launch':>18} {'p50 ms':>8} {'CPU ratio':>10}")
    for s in summaries:
        print(
            f"{s['course_members']:>14} {s['hub_cpu_ms_per_launch']:>18} {s['p50_ms']:>8} "
            f"{s['cpu_ratio']:>10}"
        )
    print(f"CPU ratio: median of rounds, CPU per launch / that at {summaries[0]['course_members']}")


def _print_detail(results: list[dict]) -> None:
    print(f"\n{'kind':6} {'load':>12} {'launches/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for r in results:
        print(
            f"{r['kind']:6} {r['mode']:>12} {r['launches_per_s']:>10} "
            f"{r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=500, help="launches per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="side by side: rounds")
    parser.add_argument("--clients", type=int, default=50, help="side by side: clients")
    parser.add_argument("--kinds", nargs="+", choices=list(STOCK_AUTHENTICATORS), default=None)
    parser.add_argument(
        "--course-members", type=int, nargs="+", help="the project alone, courses of these sizes"
    )
    parser.add_argument("--detail", action="store_true", help="the project alone, more loads")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--per-minute", type=int, default=300, help="arrival rate, lecture run")
    parser.add_argument("--returning", action="store_true", help="students who already exist")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    report: dict = {"host": {"machine": host_platform.machine(), "cpus": os.cpu_count()}}
    if args.detail:
        results = asyncio.run(run(args.launches, args.concurrency, args.per_minute, args.returning))
        _print_detail(results)
    elif args.course_members:
        with tempfile.TemporaryDirectory(prefix="multilogin-bench-") as workdir:
            results, summaries = asyncio.run(
                course_sizes(
                    args.course_members, args.launches, args.rounds, args.clients, Path(workdir)
                )
            )
        _print_course_sizes(summaries)
        report["summaries"] = summaries
    else:
        with tempfile.TemporaryDirectory(prefix="multilogin-bench-") as workdir:
            results, summaries = asyncio.run(
                side_by_side(
                    args.kinds or list(STOCK_AUTHENTICATORS),
                    args.launches,
                    args.rounds,
                    args.clients,
                    Path(workdir),
                    args.returning,
                )
            )
        _print_side_by_side(summaries)
        report["summaries"] = summaries
    report["results"] = results
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    failed = sum(r["failed"] for r in results)
    if failed:
        first = next(r["first_failure"] for r in results if r["failed"])
        print(f"\n{failed} launches failed; the first: {first}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
