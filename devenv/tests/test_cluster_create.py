"""Creating the kind cluster: a node that boots slower than kind waits is created once more."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv import cluster, cluster_config
from devenv.cluster import ClusterError
from tools.bootstrap.run import RunError

# What kind prints when a node's systemd did not log its boot in kind's 30 s.
SLOW_BOOT = (
    "ERROR: failed to create cluster: could not find a log line that matches "
    '"Reached target .*Multi-User System.*|detected cgroup v1"'
)


class FakeKind:
    """`kind`, answering `create cluster` with the given failures first, then success."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str | Path, log: Path | None = None, **_: object) -> str:
        command = tuple(str(arg) for arg in args)
        self.calls.append(command[:2])
        if command[:2] == ("get", "clusters"):
            return ""
        if command[:2] == ("create", "cluster") and self.failures:
            raise RunError(["kind", *command], "exited with 1", self.failures.pop(0), log, 1)
        return ""


@pytest.fixture
def kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeKind:
    monkeypatch.setenv("JHK8S_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cluster.local_registry, "write_hosts_files", lambda: None)
    fake = FakeKind([])
    monkeypatch.setattr(cluster, "kind", fake)
    return fake


def test_a_node_that_boots_too_slowly_is_deleted_and_created_once_more(kind: FakeKind) -> None:
    kind.failures = [SLOW_BOOT]
    cluster.create_cluster(cluster_config.load(), "node-image")
    assert kind.calls == [
        ("get", "clusters"),
        ("create", "cluster"),
        ("delete", "cluster"),
        ("create", "cluster"),
    ]


def test_a_second_slow_boot_fails_the_create_and_leaves_no_nodes(kind: FakeKind) -> None:
    kind.failures = [SLOW_BOOT, SLOW_BOOT]
    with pytest.raises(ClusterError, match="Multi-User System"):
        cluster.create_cluster(cluster_config.load(), "node-image")
    assert kind.calls[-2:] == [("create", "cluster"), ("delete", "cluster")]
    assert kind.calls.count(("create", "cluster")) == 2


def test_any_other_failure_is_not_retried(kind: FakeKind) -> None:
    kind.failures = ["ERROR: failed to create cluster: node(s) already exist for a cluster"]
    with pytest.raises(ClusterError, match="already exist"):
        cluster.create_cluster(cluster_config.load(), "node-image")
    assert kind.calls == [("get", "clusters"), ("create", "cluster"), ("delete", "cluster")]
