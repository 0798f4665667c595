"""The rendered manifests are valid for the pinned Kubernetes: a server-side dry run on kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from chart_render import DEV_VALUES, PRODUCTION_VALUES, run_helm, template_args

from devenv import cluster_config

# The dry run creates nothing, so an existing namespace serves.
DRY_RUN_NAMESPACE = "default"
# Node ports are cluster-wide: a running dev release already holds values-dev's 30080, and the
# API server refuses a second Service on it even in a dry run. Which port is free is the
# cluster's state, not the manifests' validity, so the dry run lets the cluster pick one.
ANY_NODE_PORT = ("proxy.service.nodePort=null",)


@pytest.mark.cluster
@pytest.mark.parametrize("values_file", [DEV_VALUES, PRODUCTION_VALUES])
def test_manifests_pass_a_server_side_dry_run(tmp_path: Path, values_file: Path) -> None:
    rendered = run_helm(*template_args((values_file,), ANY_NODE_PORT, namespace=DRY_RUN_NAMESPACE))
    assert rendered.returncode == 0, rendered.stderr
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(rendered.stdout)
    kubectl = cluster_config.current().kubectl.in_namespace(DRY_RUN_NAMESPACE)
    output = kubectl("apply", "--dry-run=server", "-f", str(manifests))
    assert "deployment.apps/jh-jupyterhub-k8s-hub created (server dry run)" in output
