"""Figures of the dev environment (a benchmark, not a test): spawn times and where they go.

    PYTHONPATH=.:devservices python e2e/benchmarks/figures.py [--spawns 10]

Needs `python -m devenv.dev_env up`. Writes `artifacts/benchmarks/figures.json` and prints:
- the time from clicking Start on the spawn form to a usable JupyterLab (its main area shown),
  median and max over `--spawns` spawns, for the `cpu` profile (`student`) and the `gpu` profile
  with one GPU (`gpu-student`); each spawn starts from a stopped server; and where that time
  goes (`spawn_timeline.py`): each spawn's moments after the click and its segments, and the
  median of each segment; and the median and max to the moment the lab page itself saw its main
  area (without the benchmark's own polling lag).

A lecture's learners launching at once: `lecture_burst.py`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

E2E_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(E2E_DIR))  # the suite's page objects and API helpers

from environment import Environment  # noqa: E402
from hub_api import HubAdmin  # noqa: E402
from pages import HubPages, LabPage  # noqa: E402
from spawn_timeline import SpawnTimeline, hub_marks, lab_marks, median_segments, pod_marks  # noqa: E402
from test_user_stories import hub_deployment, lab_pod  # noqa: E402

from conftest import sign_in  # noqa: E402
from devenv import dev_env  # noqa: E402
from service_fixtures import chromium_launch_args  # noqa: E402
from tools.bootstrap.paths import REPO_ROOT  # noqa: E402

OUTPUT = REPO_ROOT / "artifacts" / "benchmarks" / "figures.json"
SPAWN_CASES = (("cpu", "student", {}), ("gpu", "gpu-student", {"gpus": "1"}))
# Runs in every page of a spawn before the page's own scripts: in JupyterLab's page, notes when
# its main area is first shown, since Playwright's `expect` looks only every second or so.
LAB_SHOWN_RECORDER = """
new MutationObserver((records, observer) => {
  const main = document.querySelector('#jp-main-dock-panel');
  if (main && main.checkVisibility()) {
    window.labShownAt = Date.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def browser_marks(page: Page) -> dict[str, float]:
    """The lab page's navigation start (the spawn page's redirect), its document received and
    its main area shown, in seconds since the epoch (the browser's clock is the host's)."""
    times = page.evaluate(
        """() => {
          const navigation = performance.getEntriesByType('navigation')[0];
          return [performance.timeOrigin, navigation.responseEnd, window.labShownAt || null];
        }"""
    )
    origin, response_end, shown = times
    marks = {
        "lab_url_reached": origin / 1000,
        "lab_document_received": (origin + response_end) / 1000,
    }
    if shown is not None:
        marks["lab_shown"] = shown / 1000
    return marks


def spawn_timeline(
    env: Environment, page: Page, username: str, clicked: float, seen_loaded: float
) -> SpawnTimeline:
    """The moments of the spawn begun at `clicked`, read while its lab still runs."""
    pod = lab_pod(env, username)
    hub_log = env.kubectl("logs", hub_deployment(env), "--timestamps", "--since=10m")
    lab_log = env.kubectl("logs", pod["metadata"]["name"], "-c", "notebook", "--timestamps")
    return SpawnTimeline(
        {
            "clicked": clicked,
            **hub_marks(hub_log, username, pod["metadata"]["name"], clicked),
            **pod_marks(pod),
            **lab_marks(lab_log),
            **browser_marks(page),
            "benchmark_saw_lab": seen_loaded,
        }
    )


def time_spawns(browser: Browser, env: Environment, admin: HubAdmin, count: int) -> dict:
    results: dict[str, Any] = {}
    for profile, username, options in SPAWN_CASES:
        context = browser.new_context()
        context.add_init_script(LAB_SHOWN_RECORDER)
        hub = HubPages(sign_in(context, env, username), env)
        seconds = []
        timelines = []
        for attempt in range(count):
            admin.stop_server(username)
            hub.open_spawn_form()
            hub.choose_profile(profile)
            for option, value in options.items():
                hub.choose_option(profile, option, value)
            clicked = time.time()
            started = time.monotonic()
            hub.submit_spawn_form()
            LabPage(hub.page).wait_until_loaded()
            seconds.append(round(time.monotonic() - started, 1))
            timelines.append(spawn_timeline(env, hub.page, username, clicked, time.time()))
            print(
                f"  {profile} spawn {attempt + 1}/{count}: {seconds[-1]} s "
                f"{json.dumps(timelines[-1].segments())}",
                flush=True,
            )
        admin.stop_server(username)
        context.close()
        # The same spawns, ended when the lab page itself saw its main area (no polling lag).
        shown = [t.relative()["lab_shown"] for t in timelines if "lab_shown" in t.marks]
        results[profile] = {
            "spawns": seconds,
            "median_s": statistics.median(seconds),
            "max_s": max(seconds),
            "to_lab_shown_median_s": statistics.median(shown) if shown else None,
            "to_lab_shown_max_s": max(shown, default=None),
            "median_segments_s": median_segments(timelines),
            "timelines_s": [timeline.relative() for timeline in timelines],
        }
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawns", type=int, default=10)
    args = parser.parse_args(argv)
    env = Environment.of(dev_env.current())
    figures: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_args())
        admin_context = browser.new_context()
        sign_in(admin_context, env, "admin")
        admin = HubAdmin.from_signed_in_context(admin_context, env)
        figures["spawn_to_lab"] = time_spawns(browser, env, admin, args.spawns)
        browser.close()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
