"""Time to a running lab on nodes that lack its image, without and with the pre-puller (a
benchmark, not a test).

    PYTHONPATH=.:devservices:authenticators:hub:e2e .nox/e2e/bin/python \
        e2e/benchmarks/prepull.py [--profile deeplearning] [--gpus 1]

Needs `python -m devenv.dev_env up` with the chart's continuous pre-puller on: the dev values keep
it off (helm/values-dev.yaml says why), so set `prePuller.continuous.enabled: true` there first.
The profile's image and where its labs run come from the deployed hub's own values: a profile
with GPUs runs on the nodes the GPU labs' puller covers, others on those of the CPU labs'.
1. Without: the puller of that kind is kept off every node (its node selector patched to match
   none), the image is removed from those nodes (`crictl rmi`), and a lab of the profile is
   started through the hub API; the time is from the start request until the hub reports the
   server ready, which includes pulling the image.
2. With: the image is removed again, the puller is let back (it pulls on every node), and once
   it runs everywhere the lab is started and timed the same way.
Prints both times, their ratio and how long the pre-pull itself took; exits non-zero when a lab
does not start. The puller is restored and the benchmark's server stopped whatever happens.

The default profile is the Deep learning lab (6.8 GB). lab-base (`--profile gpu`) shows little:
the deep-learning image is built on it, so a GPU node that holds one holds lab-base's layers, and
removing lab-base leaves them; its "pull" is then its manifest.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

E2E_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(E2E_DIR))  # the suite's page objects and API helpers

from environment import Environment  # noqa: E402
from hub_api import HubAdmin  # noqa: E402
from waits import wait_until  # noqa: E402

from conftest import signed_in_admin  # noqa: E402
from devenv import dev_env, node_images  # noqa: E402
from hubconfig.image_awaiter import pulled_everywhere  # noqa: E402
from hubconfig.images import reference  # noqa: E402
from tools.kube import Kubectl  # noqa: E402

USER = "prepull-bench"
READY_WAIT_S = 900
PULL_WAIT_S = 900
# A node label no node carries: the puller's pods leave every node while it is set.
NOWHERE = {"jupyterhub-k8s.benchmark/paused": "true"}


def deployed_values(kubectl: Kubectl) -> dict[str, Any]:
    """The chart values the dev hub runs with, from its configuration Secret."""
    secrets = kubectl.get("secrets", "-l", "app.kubernetes.io/component=hub")["items"]
    for secret in secrets:
        if "values.yaml" in secret.get("data", {}):
            return yaml.safe_load(base64.b64decode(secret["data"]["values.yaml"]))
    raise SystemExit("prepull: no hub configuration Secret found; run `devenv.dev_env up`")


def profile_lab(values: dict[str, Any], slug: str) -> tuple[str, str, list[str]]:
    """The profile's image reference, which labs it makes ("gpu" or "cpu"), and the groups that
    may use it (a profile in this chart's form, as the dev values write them)."""
    singleuser = values["singleuser"]
    profile = next((p for p in singleuser["profileList"] if p.get("slug") == slug), None)
    if profile is None:
        raise SystemExit(f"prepull: the deployed values have no profile {slug!r}")
    image = singleuser["images"][profile["image"]] if profile.get("image") else singleuser["image"]
    kind = "gpu" if profile.get("gpus") else "cpu"
    return reference(image), kind, list(profile.get("allowedGroups") or [])


def puller(kubectl: Kubectl, kind: str) -> dict[str, Any]:
    selection = (
        f"app.kubernetes.io/component=continuous-image-puller,jupyterhub-k8s/pulls-for={kind}-labs"
    )
    found = kubectl.get("daemonsets", "-l", selection)["items"]
    if not found:
        raise SystemExit(
            f"prepull: the dev release has no continuous pre-puller for {kind} labs; "
            "deploy it with prePuller.continuous.enabled (the default)"
        )
    return found[0]


def puller_nodes(kubectl: Kubectl, daemon_set: dict[str, Any]) -> list[str]:
    """The nodes the puller runs on: where labs of its kind may land."""
    labels = ",".join(f"{k}={v}" for k, v in daemon_set["spec"]["selector"]["matchLabels"].items())
    pods = kubectl.get("pods", "-l", labels)["items"]
    return sorted({pod["spec"]["nodeName"] for pod in pods if pod["spec"].get("nodeName")})


def pulled_on_every_node(kubectl: Kubectl, name: str) -> bool:
    """Whether the puller is back on its nodes and has pulled there (as the hook waits)."""
    daemon_set = kubectl.get("daemonset", name)
    return daemon_set["status"].get("desiredNumberScheduled", 0) > 0 and pulled_everywhere(
        daemon_set
    )


@contextmanager
def puller_paused(kubectl: Kubectl, daemon_set: dict[str, Any]) -> Iterator[None]:
    """The puller kept off every node while the block runs; its node selector restored after."""
    name = daemon_set["metadata"]["name"]
    original = daemon_set["spec"]["template"]["spec"].get("nodeSelector", {})

    def set_selector(selector: dict[str, str]) -> None:
        patch = [{"op": "add", "path": "/spec/template/spec/nodeSelector", "value": selector}]
        kubectl("patch", "daemonset", name, "--type=json", "-p", json.dumps(patch))

    set_selector(NOWHERE)
    try:
        wait_until(
            lambda: not kubectl.get("daemonset", name)["status"].get("currentNumberScheduled"),
            timeout_s=120,
            what=f"{name} to leave every node",
        )
        yield
    finally:
        set_selector(original)


def remove_everywhere(nodes: list[str], image: str) -> None:
    for node in nodes:
        node_images.remove_image(node, image)


def timed_start(admin: HubAdmin, options: dict[str, Any]) -> float:
    """Seconds from the start request until the hub reports the server ready."""
    started = time.monotonic()
    response = admin.start_server(USER, options)
    if response.status_code not in (201, 202):
        raise SystemExit(
            f"prepull: the hub refused the start: {response.status_code} {response.text}"
        )

    def ready() -> bool:
        if admin.server_running(USER):
            return True
        if not admin.server_exists(USER):
            raise SystemExit(f"prepull: {USER}'s lab failed to start (see the hub's log)")
        return False

    wait_until(ready, timeout_s=READY_WAIT_S, what=f"{USER}'s lab to be ready")
    return time.monotonic() - started


def bench_user(admin: HubAdmin, groups: list[str]) -> None:
    admin.ensure_user(USER)
    for group in groups[:1]:
        admin.session.post(f"{admin.api}/groups/{group}", timeout=30)
        added = admin.session.post(
            f"{admin.api}/groups/{group}/users", json={"users": [USER]}, timeout=30
        )
        added.raise_for_status()


def measure(env: Environment, admin: HubAdmin, slug: str, gpus: int) -> dict[str, Any]:
    kubectl = env.kubectl
    image, kind, groups = profile_lab(deployed_values(kubectl), slug)
    daemon_set = puller(kubectl, kind)
    name = daemon_set["metadata"]["name"]
    nodes = puller_nodes(kubectl, daemon_set)
    if not nodes:
        raise SystemExit(f"prepull: {name} runs on no node; no {kind} node to measure on")
    options: dict[str, Any] = {"profile": slug, **({"gpus": gpus} if kind == "gpu" else {})}
    bench_user(admin, groups)
    admin.stop_server(USER)
    print(f"profile {slug}: {image} ({kind} labs) on {', '.join(nodes)}", flush=True)
    try:
        with puller_paused(kubectl, daemon_set):
            remove_everywhere(nodes, image)
            without = timed_start(admin, options)
            print(f"without the pre-puller: {without:.1f} s", flush=True)
            admin.stop_server(USER)
            remove_everywhere(nodes, image)
        pull_started = time.monotonic()
        wait_until(
            lambda: pulled_on_every_node(kubectl, name),
            timeout_s=PULL_WAIT_S,
            what=f"{name} to pull {image} on every node",
        )
        prepull = time.monotonic() - pull_started
        with_puller = timed_start(admin, options)
        print(f"with the pre-puller: {with_puller:.1f} s", flush=True)
    finally:
        admin.stop_server(USER)
    return {
        "profile": slug,
        "image": image,
        "nodes": nodes,
        "without_prepuller_s": round(without, 1),
        "with_prepuller_s": round(with_puller, 1),
        "ratio": round(without / with_puller, 1),
        "prepull_s": round(prepull, 1),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="deeplearning", help="slug of the profile to start")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs to ask for (GPU profiles)")
    args = parser.parse_args(argv)
    env = Environment.of(dev_env.current())
    admin = signed_in_admin(env)
    figures = measure(env, admin, args.profile, args.gpus)
    print(json.dumps(figures, indent=2))
    print(
        f"time to a running lab on nodes without {figures['image']}: "
        f"{figures['without_prepuller_s']} s without the pre-puller, "
        f"{figures['with_prepuller_s']} s with it ({figures['ratio']}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
