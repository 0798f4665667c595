"""A lecture starts: N learners launch the course's lab from the mock Moodle within a few seconds
(a benchmark, not a test).

    PYTHONPATH=.:devservices:hub python e2e/benchmarks/lecture_burst.py [--learners 100]
        [--within 10] [--wait 300]

Needs `python -m devenv.dev_env up`. The learners are the mock Moodle's `learner-` cohort
(devenv/services/mock-moodle-extra.yaml); each posts an LTI 1.1 launch of course 101 (whose lab
the dev values open without the spawn form), the launches spread evenly over `--within` seconds,
then follows its server's progress stream as the spawn page does. Meanwhile a side thread polls
the hub API (`GET /hub/api/`, through the proxy). Each learner ends as running, refused (the
launch got no 2xx/3xx answer), capacity (the hub's "All lab machines are busy" failure), timeout
(not ready within `--wait`, or the start timeout) or failed (burst_report.py). CPU per start: each
lab pod's cgroup CPU time at its ready moment (read for all labs at once after the last one
settled, less the idle rate measured over the next IDLE_SAMPLE_S), plus the hub's and the proxy's
CPU time over the burst divided by the labs that started. Writes
artifacts/benchmarks/lecture-burst.json, stops every learner's server, and exits 1 when any
learner's lab did not run or a server could not be stopped (a hub that fell over during the
burst): the figures are written either way, with how the clean-up went (`clean_up`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

E2E_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(E2E_DIR))  # the suite's API helpers

import burst_report  # noqa: E402
import pod_cgroups  # noqa: E402
from burst_report import Learner  # noqa: E402
from environment import Environment  # noqa: E402
from hub_api import HubAdmin  # noqa: E402

from conftest import signed_in_admin  # noqa: E402
from devenv import dev_env  # noqa: E402
from mock_moodle.config import from_dict  # noqa: E402
from tools.bootstrap.paths import REPO_ROOT  # noqa: E402

OUTPUT = REPO_ROOT / "artifacts" / "benchmarks" / "lecture-burst.json"
COHORT = "learner-"
COURSE = "101"
API_POLL_S = 0.2
IDLE_SAMPLE_S = 10
REDIRECTS = 10
SERVER_GONE = "the server was gone before its stream told how its start ended"
COMPONENT = "app.kubernetes.io/component"  # the chart's label of the hub's and proxy's pods


def cohort(env: Environment, count: int) -> list[str]:
    """The first `count` learners of the deployed mock Moodle's cohort."""
    learners = from_dict(dev_env.mock_moodle_config(env.deployed)).cohorts.get(COHORT, ())
    if count > len(learners):
        raise SystemExit(
            f"the mock Moodle's {COHORT!r} cohort has {len(learners)} learners, not {count}: "
            "raise its count in devenv/services/mock-moodle-extra.yaml"
        )
    return list(learners[:count])


def launch(env: Environment, username: str) -> tuple[int | None, str | None]:
    """One learner's LTI 1.1 launch as the browser posts the mock Moodle's form, following the
    hub's redirects (to the spawn page) but not onto the user's own origin: the final status,
    and why the launch counts as refused (None when it does not)."""
    session = requests.Session()
    try:
        form = session.get(
            f"{env.mock_moodle_url}/lti11/launch",
            params={"user": username, "course": COURSE, "format": "json"},
            timeout=30,
        ).json()
        response = session.post(form["url"], data=form["fields"], allow_redirects=False, timeout=60)
        for _ in range(REDIRECTS):
            location = response.headers.get("Location")
            if not response.is_redirect or location is None:
                break
            url = urljoin(response.url, location)
            if urlsplit(url).netloc != urlsplit(env.hub_url).netloc:
                break  # the user's own origin: the lab is up
            response = session.get(url, allow_redirects=False, timeout=60)
    except (requests.RequestException, ValueError, KeyError) as error:
        return None, f"{type(error).__name__}: {error}"
    if response.status_code >= 400:
        return response.status_code, f"{response.status_code} {response.reason}"
    return response.status_code, None


def follow_progress(
    admin: HubAdmin, username: str, started: float, deadline: float
) -> tuple[float | None, float | None, str | None]:
    """(ready_s, failed_s, failure) from the progress stream; all None when the wait ran out.
    A stream refused with 400 (not starting yet, or already settled) is asked again."""
    while time.monotonic() < deadline:
        try:
            for event in admin.spawn_progress(username, timeout_s=deadline - time.monotonic()):
                at = round(time.monotonic() - started, 1)
                if event.get("ready"):
                    return at, None, None
                if event.get("failed"):
                    return None, at, str(event.get("message", ""))
                if time.monotonic() > deadline:
                    break
        except requests.HTTPError as error:
            at = round(time.monotonic() - started, 1)
            if error.response is None or error.response.status_code != 400:
                return None, at, str(error)
            if admin.server_running(username):
                return at, None, None
            if not admin.server_exists(username):
                return None, at, SERVER_GONE
        except requests.RequestException:
            pass  # the stream broke or read past the deadline: ask again while time is left
        time.sleep(1)
    return None, None, None


class ApiPoller(threading.Thread):
    """Polls the hub API through the proxy the whole burst; answer times in ms."""

    def __init__(self, env: Environment) -> None:
        super().__init__(daemon=True)
        self.url = f"{env.hub_url}/hub/api/"
        self.latency_ms: list[float] = []
        self.errors = 0
        self.done = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        while not self.done.is_set():
            sent = time.perf_counter()
            try:
                session.get(self.url, timeout=10).raise_for_status()
                self.latency_ms.append((time.perf_counter() - sent) * 1000)
            except requests.RequestException:
                self.errors += 1
            self.done.wait(API_POLL_S)


def lab_node(env: Environment) -> str:
    """The node the CPU labs, the hub and the proxy share (the dev cluster's control plane)."""
    hub = env.kubectl("get", "pods", "-l", f"{COMPONENT}=hub", "-o", "jsonpath={..nodeName}")
    return hub.split()[0]


def component_uids(env: Environment, *components: str) -> list[str]:
    selector = f"{COMPONENT} in ({','.join(components)})"
    return env.kubectl("get", "pods", "-l", selector, "-o", "jsonpath={..uid}").split()


def cpu_per_start(
    before: pod_cgroups.NodeSnapshot,
    after: pod_cgroups.NodeSnapshot,
    idle: pod_cgroups.NodeSnapshot,
    *,
    after_at_s: float,
    labs: dict[str, float],
    hub_and_proxy: list[str],
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """CPU seconds per start (labs: pod UID -> ready_s, all after the `after` snapshot), and the
    idle labs' CPU (millicores over IDLE_SAMPLE_S) and working set (MiB), medians."""
    started = [uid for uid in labs if uid in after.pods and uid in idle.pods]
    if not started:
        return {"lab_s": None, "hub_and_proxy_s": None, "total_s": None}, {}
    idle_rate = {
        uid: (idle.pods[uid].cpu_s - after.pods[uid].cpu_s) / IDLE_SAMPLE_S for uid in started
    }
    at_ready = [
        after.pods[uid].cpu_s - idle_rate[uid] * (after_at_s - labs[uid]) for uid in started
    ]
    shared = sum(
        after.pods[uid].cpu_s - before.pods[uid].cpu_s
        for uid in hub_and_proxy
        if uid in before.pods and uid in after.pods
    )
    lab_s = statistics.median(at_ready)
    hub_s = shared / len(started)
    per_start = {
        "lab_s": round(lab_s, 2),
        "hub_and_proxy_s": round(hub_s, 2),
        "total_s": round(lab_s + hub_s, 2),
    }
    idle_lab = {
        "cpu_m": round(statistics.median(idle_rate.values()) * 1000, 1),
        "working_set_mib": round(
            statistics.median(idle.pods[uid].working_set_bytes for uid in started) / 2**20, 1
        ),
    }
    return per_start, idle_lab


def burst(
    env: Environment, admin: HubAdmin, names: list[str], within_s: float, wait_s: float
) -> dict[str, Any]:
    node = lab_node(env)
    hub_and_proxy = component_uids(env, "hub", "proxy")
    poller = ApiPoller(env)
    before = pod_cgroups.snapshot(node)
    poller.start()
    started = time.monotonic()
    deadline = started + within_s + wait_s
    posted: dict[str, float] = {}

    def learner(index: int) -> Learner:
        name = names[index]
        time.sleep(max(0.0, started + index * within_s / len(names) - time.monotonic()))
        posted[name] = round(time.monotonic() - started, 1)
        status, error = launch(env, name)
        if error is not None:
            return Learner(name, status, launch_error=error)
        ready_s, failed_s, failure = follow_progress(admin, name, started, deadline)
        return Learner(name, status, ready_s=ready_s, failed_s=failed_s, failure=failure)

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        learners = list(pool.map(learner, range(len(names))))
    after_at_s = time.monotonic() - started
    after = pod_cgroups.snapshot(node)
    poller.done.set()
    time.sleep(IDLE_SAMPLE_S)
    idle = pod_cgroups.snapshot(node)
    pods = env.lab_pods_by_user()
    labs = {
        pod["metadata"]["uid"]: learner.ready_s
        for learner in learners
        if learner.ready_s is not None
        for pod in pods.get(learner.name, [])
    }
    per_start, idle_lab = cpu_per_start(
        before, after, idle, after_at_s=after_at_s, labs=labs, hub_and_proxy=hub_and_proxy
    )
    figures = burst_report.report(
        learners,
        posted_within_s=max(posted.values()),
        api_latency_ms=poller.latency_ms,
        api_errors=poller.errors,
        cpu_per_start_s=per_start,
        cores=int(env.kubectl("get", "node", node, "-o", "jsonpath={.status.capacity.cpu}")),
    )
    return {**figures, "idle_lab": idle_lab, "node": node}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--within", type=float, default=10, help="seconds the launches spread over")
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for the labs")
    args = parser.parse_args(argv)
    env = Environment.of(dev_env.current())
    names = cohort(env, args.learners)
    admin = signed_in_admin(env)
    admin.stop_servers(names)
    try:
        figures = burst(env, admin, names, args.within, args.wait)
    finally:
        cleaned = clean_up(admin, names)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps({**figures, "clean_up": cleaned}, indent=2) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k != "learner_details"}, indent=2))
    print(f"written to {OUTPUT}")
    if cleaned != "stopped":
        print(f"error: the labs were not all stopped: {cleaned}", file=sys.stderr)
    return 0 if burst_report.all_running(figures) and cleaned == "stopped" else 1


def clean_up(admin: HubAdmin, names: list[str]) -> str:
    """Stop the burst's labs; "stopped", or what went wrong, so that a hub that fell over
    during the burst still leaves its figures behind (and a non-zero exit)."""
    try:
        admin.stop_servers(names)
    except (requests.RequestException, AssertionError) as error:
        return f"{type(error).__name__}: {error}"
    return "stopped"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
