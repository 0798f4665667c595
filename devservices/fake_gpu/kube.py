"""The two Kubernetes API calls the plugin makes, on its own node: read its labels (which configs
to use) and patch its labels (the GFD ones). Plain HTTPS with the pod's ServiceAccount token and
CA, as every in-cluster client does; no client library."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TIMEOUT_S = 10.0


class KubeError(RuntimeError):
    """The API server refused or did not answer; the message says which call and why."""


class NodeApi:
    def __init__(self, base_url: str, token: str, context: ssl.SSLContext | None) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._context = context

    @classmethod
    def in_cluster(cls) -> NodeApi | None:
        """From the pod's environment and ServiceAccount files; None outside a cluster."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        token_file = SERVICE_ACCOUNT_DIR / "token"
        if not host or not token_file.exists():
            return None
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
        host = f"[{host}]" if ":" in host else host
        return cls(f"https://{host}:{port}", token_file.read_text().strip(), context)

    def _call(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        # The base URL is the API server's https:// address (or a test's), never user input.
        request = urllib.request.Request(  # noqa: S310
            self._base_url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
            | ({"Content-Type": content_type} if content_type else {}),
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=TIMEOUT_S, context=self._context
            ) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as error:
            raise KubeError(f"{method} {path}: HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as error:
            raise KubeError(f"{method} {path}: {error}") from error

    def node_labels(self, node: str) -> dict[str, str]:
        reply = self._call("GET", f"/api/v1/nodes/{urllib.parse.quote(node, safe='')}")
        return dict(reply.get("metadata", {}).get("labels") or {})

    def patch_node_labels(self, node: str, labels: dict[str, str | None]) -> None:
        """Merge-patch the labels; None removes one."""
        self._call(
            "PATCH",
            f"/api/v1/nodes/{urllib.parse.quote(node, safe='')}",
            {"metadata": {"labels": labels}},
            "application/merge-patch+json",
        )
