"""Kubernetes, the one way the tools and tests talk to it: the pinned kubectl against one context.

The dev environment, the cluster tests, the chart's install test and the e2e suite all use
`Kubectl`; a failed command raises the runner's `RunError` (command, output tail, log).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tools import binaries
from tools.bootstrap.run import RunError, run

DEFAULT_TIMEOUT_S = 120
# `kubectl diff` exits with 1 when the objects differ from the cluster's (0: the same).
DIFF_FOUND = 1


def secret(
    name: str, data: dict[str, str], kind: str = "Opaque", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Secret manifest `name` of type `kind` holding `data` (as stringData)."""
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": kind,
            "stringData": data}  # fmt: skip


@dataclass(frozen=True)
class Kubectl:
    """kubectl against `context` (whatever the current context is), in `namespace` when given;
    with `log`, every command and its output are appended to that file."""

    context: str
    namespace: str | None = None
    log: Path | None = None

    def in_namespace(self, namespace: str) -> Kubectl:
        return replace(self, namespace=namespace)

    def logging_to(self, log: Path) -> Kubectl:
        return replace(self, log=log)

    def command(self, *args: str) -> list[str]:
        namespace = ["--namespace", self.namespace] if self.namespace else []
        return [str(binaries.ensure("kubectl")), "--context", self.context, *namespace, *args]

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> str:
        """Run `kubectl ARGS` and return its standard output."""
        return run(self.command(*args), stdin=stdin, timeout=timeout, log=self.log)

    def get(self, *args: str) -> Any:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self("get", *args, "-o", "json"))

    def apply(self, documents: Any) -> bool:
        """Apply a manifest (a dict, e.g. a List); return whether it changed anything.

        Whether it changes something is `kubectl diff`'s exit status, not apply's wording.
        """
        manifest = json.dumps(documents)
        try:
            self("diff", "-f", "-", stdin=manifest)
        except RunError as error:
            if error.returncode != DIFF_FOUND:
                raise
            self("apply", "-f", "-", stdin=manifest)
            return True
        return False

    def rollout_status(self, resource: str, timeout_s: float, *selection: str) -> None:
        """Wait until `resource` (e.g. `daemonset/kube-router`, or `deployment` with a selector)
        has rolled out."""
        self(
            "rollout", "status", resource, *selection, f"--timeout={timeout_s:.0f}s",
            timeout=timeout_s + 30,
        )  # fmt: skip

    def wait(self, condition: str, timeout_s: float, *selection: str) -> None:
        """`kubectl wait --for=condition=CONDITION SELECTION`, with its own deadline."""
        self(
            "wait", f"--for=condition={condition}", *selection, f"--timeout={timeout_s:.0f}s",
            timeout=timeout_s + 30,
        )  # fmt: skip

    def answers(self) -> bool:
        """Whether the API server reports ready."""
        try:
            self("get", "--raw", "/readyz", timeout=30)
        except RunError:
            return False
        return True

    @contextmanager
    def port_forward(self, target: str, local_port: int, remote_port: int) -> Iterator[None]:
        """Forward 127.0.0.1:`local_port` to `target` (e.g. `svc/NAME`) while the block runs."""
        forward = subprocess.Popen(
            self.command("port-forward", target, f"{local_port}:{remote_port}"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            forward.terminate()
            forward.wait(timeout=30)
