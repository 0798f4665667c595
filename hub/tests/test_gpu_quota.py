"""GPU quota across a user's servers and pooled per group."""

from __future__ import annotations

import pytest
from hub_fakes import FakeServer, FakeUsers, hub_user

from hubconfig.gpu_quota import GpuQuota, Holdings, check, holdings
from hubconfig.refusals import SpawnRefused

QUOTA = GpuQuota(per_user=2, per_group={"gpu": 3})


def test_within_the_user_quota_passes() -> None:
    check(QUOTA, 1, set(), Holdings({"a": 1}, {}))


def test_cpu_spawns_never_count() -> None:
    check(GpuQuota(per_user=0), 0, {"gpu"}, Holdings({"a": 9}, {"gpu": 9}))


def test_user_quota_counts_named_servers() -> None:
    with pytest.raises(SpawnRefused) as refused:
        check(QUOTA, 1, set(), Holdings({"": 1, "train": 1}, {}))
    assert refused.value.status_code == 403
    assert refused.value.message == (
        "You already hold 2 GPU(s) in: your default server (1), server 'train' (1). "
        "You may hold at most 2 GPU(s) at once and asked for 1 more. "
        "Stop a GPU server first, or choose a CPU profile."
    )


def test_request_above_the_user_quota_alone_is_refused() -> None:
    with pytest.raises(SpawnRefused, match="at most 2 GPU\\(s\\) at once and asked for 3 more"):
        check(QUOTA, 3, set(), Holdings({}, {}))


def test_group_pool_is_shared_by_its_members() -> None:
    with pytest.raises(SpawnRefused) as refused:
        check(QUOTA, 1, {"gpu"}, Holdings({}, {"gpu": 3}))
    assert "members of 'gpu' share 3 GPU(s) and 3 are in use" in refused.value.message


def test_group_pool_does_not_limit_non_members() -> None:
    check(QUOTA, 1, {"instructor"}, Holdings({}, {"gpu": 3}))


def test_holdings_read_active_servers_of_the_user_and_the_group() -> None:
    registry = FakeUsers()
    alice = hub_user("alice", ["gpu"], registry=registry)
    bob = hub_user("bob", [], registry=registry)
    bob.groups = alice.groups
    alice.groups[0].users.append(bob)
    starting = FakeServer("new", 0)
    alice.spawners = {
        "": FakeServer("", 1),
        "old": FakeServer("old", 2, active=False),
        "new": starting,
    }
    bob.spawners = {"": FakeServer("", 1), "cpu": FakeServer("cpu", 0)}
    held = holdings(alice, starting, QUOTA)
    assert held.by_server == {"": 1}
    assert held.by_group == {"gpu": 2}


def test_negative_or_garbage_holdings_never_lower_the_total() -> None:
    user = hub_user("alice", ["gpu"])
    starting = FakeServer("new", 0)
    user.spawners = {"bad": FakeServer("bad", -1), "odd": FakeServer("odd", "x"), "new": starting}
    held = holdings(user, starting, QUOTA)
    assert sum(held.by_server.values()) == 0
    assert held.by_group == {"gpu": 0}
    with pytest.raises(SpawnRefused, match="at most 2 GPU\\(s\\) at once and asked for 3 more"):
        check(QUOTA, 3, {"gpu"}, held)
