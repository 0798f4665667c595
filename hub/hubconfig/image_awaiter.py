"""Wait until the pre-puller's DaemonSets have pulled their images on every node they select.

The chart's `prePuller.hook` runs this in a Helm pre-install/pre-upgrade Job (as
`python3 -m hubconfig.image_awaiter --namespace NS DAEMONSET...`): each puller pod runs only
once its init containers, one per image, have completed, so a DaemonSet whose pods are all ready
and of its current generation has every image on every node. Helm goes on with the upgrade only
when this exits 0, and its `--timeout` bounds the wait.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hubconfig.kube_api import SERVICE_ACCOUNT_DIR, json_reader, kubernetes_api_url

POLL_S = 2.0
REPORT_EVERY_S = 10.0


class AwaiterError(RuntimeError):
    """The API refuses to show a puller (missing, or the Job may not read it)."""


def pulled_everywhere(daemon_set: dict[str, Any]) -> bool:
    """Whether every pod of the DaemonSet's current generation runs on every node it selects.

    The controller leaves out counts that are 0, and has not counted at all until
    observedGeneration reaches the DaemonSet's generation."""
    status = daemon_set.get("status", {})
    if status.get("observedGeneration", 0) < daemon_set["metadata"].get("generation", 1):
        return False
    desired = status.get("desiredNumberScheduled", 0)
    return status.get("updatedNumberScheduled", 0) == desired == status.get("numberReady", 0)


def progress(name: str, daemon_set: dict[str, Any]) -> str:
    status = daemon_set.get("status", {})
    ready, desired = status.get("numberReady", 0), status.get("desiredNumberScheduled", 0)
    return f"{name}: {ready} of {desired} nodes have pulled"


def read_daemon_set(
    api_url: str, namespace: str, name: str, credentials: Path = SERVICE_ACCOUNT_DIR
) -> dict[str, Any]:
    """The DaemonSet as the API shows it; AwaiterError when refused, OSError while unreachable."""
    path = f"/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"
    try:
        return json_reader(api_url, credentials)(path)
    except urllib.error.HTTPError as error:
        if error.code in (401, 403, 404):
            raise AwaiterError(
                f"the API answers {error.code} for DaemonSet {namespace}/{name}: the hook's "
                "pullers must exist and its Role must let it get them"
            ) from None
        raise OSError(f"the API answers {error.code}") from error


def await_pullers(
    api_url: str,
    namespace: str,
    names: Sequence[str],
    *,
    credentials: Path = SERVICE_ACCOUNT_DIR,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> None:
    """Return once every DaemonSet in `names` has pulled everywhere, reporting progress."""
    waiting = list(names)
    next_report = clock()
    while waiting:
        lines = []
        for name in list(waiting):
            try:
                daemon_set = read_daemon_set(api_url, namespace, name, credentials)
            except OSError as error:
                lines.append(f"{name}: the API did not answer ({error})")
                continue
            if pulled_everywhere(daemon_set):
                report(f"{progress(name, daemon_set)}: done")
                waiting.remove(name)
            else:
                lines.append(progress(name, daemon_set))
        if not waiting:
            return
        if clock() >= next_report:
            for line in lines:
                report(line)
            next_report = clock() + REPORT_EVERY_S
        sleep(POLL_S)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", required=True)
    parser.add_argument("daemon_sets", nargs="+", metavar="DAEMONSET")
    arguments = parser.parse_args(argv)
    api_url = kubernetes_api_url(os.environ)
    if api_url is None:
        raise SystemExit("image_awaiter: not in a pod (KUBERNETES_SERVICE_HOST is not set)")
    try:
        await_pullers(api_url, arguments.namespace, arguments.daemon_sets)
    except AwaiterError as error:
        raise SystemExit(f"image_awaiter: {error}") from None


if __name__ == "__main__":
    main()
