"""The hub's own requests to the Kubernetes API, as its service account: wait at start until the
API answers, and read JSON (the nodes and pods behind the form's free GPUs).

KubeSpawner lists the pods once when the hub starts. If that list fails, as when the node's
Service routing is not back yet after a node restart, it never tries again: the hub looks
healthy while every spawn, poll and stop fails, and servers that kept running are taken for
stopped. Waiting here turns that race into a short delay; past the deadline the hub exits with
the reason, and the kubelet starts it again.
"""

from __future__ import annotations

import json
import ssl
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
WAIT_S = 180.0
RETRY_S = 2.0
REPORT_EVERY_S = 10.0
PROBE_TIMEOUT_S = 5.0


def kubernetes_api_url(environ: Mapping[str, str]) -> str | None:
    """The API server's in-cluster address, from the variables the kubelet sets in every pod;
    None outside a pod."""
    host = environ.get("KUBERNETES_SERVICE_HOST")
    if not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{environ.get('KUBERNETES_SERVICE_PORT', '443')}"


def api_request(
    api_url: str, path: str, credentials: Path = SERVICE_ACCOUNT_DIR
) -> tuple[urllib.request.Request, ssl.SSLContext | None]:
    """A GET of `path` as the pod's service account, and the TLS context to send it with. An
    http:// URL goes without TLS and token (tests)."""
    headers: dict[str, str] = {}
    context = None
    if api_url.startswith("https://"):
        context = ssl.create_default_context(cafile=str(credentials / "ca.crt"))
        headers["Authorization"] = f"Bearer {(credentials / 'token').read_text().strip()}"
    return urllib.request.Request(f"{api_url}{path}", headers=headers), context  # noqa: S310


def version_probe(api_url: str, credentials: Path = SERVICE_ACCOUNT_DIR) -> Callable[[], None]:
    """GET /version as the hub's service account; raises OSError while the API does not answer.
    An http:// URL goes without TLS and token (tests)."""
    request, context = api_request(api_url, "/version", credentials)

    def probe() -> None:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S, context=context):  # noqa: S310
            pass

    return probe


def json_reader(
    api_url: str, credentials: Path = SERVICE_ACCOUNT_DIR, timeout_s: float = PROBE_TIMEOUT_S
) -> Callable[[str], Any]:
    """GET an API path as the hub's service account and decode its JSON; raises OSError (or
    ValueError for an answer that is not JSON) when the read fails."""

    def read(path: str) -> Any:
        request, context = api_request(api_url, path, credentials)
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as answer:  # noqa: S310
            return json.load(answer)

    return read


def wait_until_answering(
    probe: Callable[[], None],
    what: str,
    *,
    wait_s: float = WAIT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> None:
    """Call `probe` until it stops raising OSError; after `wait_s`, SystemExit with the error."""
    started = clock()
    next_report = started
    while True:
        try:
            probe()
        except OSError as error:
            waited = clock() - started
            if waited >= wait_s:
                raise SystemExit(
                    f"jupyterhub-k8s: {what} did not answer within {wait_s:.0f} s (last error: "
                    f"{error}). The hub needs it to find and start user servers; check the "
                    "cluster's API server and the node's Service routing (kube-proxy)."
                ) from None
            if clock() >= next_report:
                report(f"jupyterhub-k8s: waiting for {what} ({waited:.0f} s): {error}")
                next_report = clock() + REPORT_EVERY_S
            sleep(RETRY_S)
            continue
        if clock() - started >= RETRY_S:
            report(f"jupyterhub-k8s: {what} answers after {clock() - started:.0f} s")
        return


def wait_for_kubernetes_api(environ: Mapping[str, str]) -> None:
    """In a pod, return once the Kubernetes API answers; outside one, at once."""
    api_url = kubernetes_api_url(environ)
    if api_url is not None:
        wait_until_answering(version_probe(api_url), f"the Kubernetes API at {api_url}")
