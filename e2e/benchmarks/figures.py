"""Figures of the dev environment (a benchmark, not a test): spawn times.

    PYTHONPATH=.:devservices python e2e/benchmarks/figures.py [--spawns 10]

Needs `python -m devenv.dev_env up`. Writes `artifacts/benchmarks/figures.json` and prints:
- the time from clicking Start on the spawn form to a usable JupyterLab (its main area shown),
  median and max over `--spawns` spawns, for the `cpu` profile (`student`) and the `gpu` profile
  with one GPU (`gpu-student`); each spawn starts from a stopped server.

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

from playwright.sync_api import Browser, sync_playwright

E2E_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(E2E_DIR))  # the suite's page objects and API helpers

from environment import Environment  # noqa: E402
from hub_api import HubAdmin  # noqa: E402
from pages import HubPages, LabPage  # noqa: E402

from conftest import sign_in  # noqa: E402
from devenv import dev_env  # noqa: E402
from service_fixtures import chromium_launch_args  # noqa: E402
from tools.bootstrap.paths import REPO_ROOT  # noqa: E402

OUTPUT = REPO_ROOT / "artifacts" / "benchmarks" / "figures.json"
SPAWN_CASES = (("cpu", "student", {}), ("gpu", "gpu-student", {"gpus": "1"}))


def time_spawns(browser: Browser, env: Environment, admin: HubAdmin, count: int) -> dict:
    results: dict[str, Any] = {}
    for profile, username, options in SPAWN_CASES:
        context = browser.new_context()
        hub = HubPages(sign_in(context, env, username), env)
        seconds = []
        for attempt in range(count):
            admin.stop_server(username)
            hub.open_spawn_form()
            hub.choose_profile(profile)
            for option, value in options.items():
                hub.choose_option(profile, option, value)
            started = time.monotonic()
            hub.submit_spawn_form()
            LabPage(hub.page).wait_until_loaded()
            seconds.append(round(time.monotonic() - started, 1))
            print(f"  {profile} spawn {attempt + 1}/{count}: {seconds[-1]} s", flush=True)
        admin.stop_server(username)
        context.close()
        results[profile] = {
            "spawns": seconds,
            "median_s": statistics.median(seconds),
            "max_s": max(seconds),
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
