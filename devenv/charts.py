"""devenv's Helm charts (the dev services, the fake GPU plugin, kind's node manifests) and the
hub's chart: their values are data devenv generates, written to a file and handed to the pinned
helm. This is how every image devenv builds reaches Kubernetes: as a chart value naming the
image lock's reference (or, for the node's preloaded images, the pinned name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from devenv.cluster_config import ClusterConfig
from tools import binaries
from tools.bootstrap.paths import cache_dir
from tools.bootstrap.run import run

HELM_TIMEOUT_S = 600


def values_file(release: str, values: dict[str, Any]) -> Path:
    """The values generated for a release, as a file (kept for reading after a failure)."""
    path = cache_dir() / "dev" / f"{release}-values.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


def helm(config: ClusterConfig, *args: str | Path, namespace: str, log: Path | None = None) -> None:
    """The pinned helm against the cluster's context, in `namespace`."""
    context = ["--kube-context", config.context, "--namespace", namespace]
    run([binaries.ensure("helm"), *args, *context], log=log, timeout=HELM_TIMEOUT_S)


def install(
    config: ClusterConfig,
    release: str,
    chart: Path,
    values: dict[str, Any],
    *,
    namespace: str,
    log: Path | None = None,
) -> None:
    """`helm upgrade --install` of one of devenv's charts with `values`.

    `--take-ownership`: the releases adopt objects an older devenv applied with kubectl.
    """
    helm(
        config, "upgrade", "--install", release, chart, "--values", values_file(release, values),
        "--create-namespace", "--take-ownership", namespace=namespace, log=log,
    )  # fmt: skip


def render(chart: Path, values: dict[str, Any], template: str | None = None) -> str:
    """What `helm template` makes of a chart with `values` (no cluster needed); only the file
    `templates/<template>` when given."""
    only = ["--show-only", f"templates/{template}"] if template else []
    command = [binaries.ensure("helm"), "template", chart.name, chart, *only]
    return run([*command, "--values", values_file(chart.name, values)])


def render_documents(chart: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The rendered chart's documents."""
    return [document for document in yaml.safe_load_all(render(chart, values)) if document]
