"""GPU quota across a user's servers and pooled per group, each GPU resource on its own."""

from __future__ import annotations

import pytest
from hub_fakes import FakeServer, FakeUsers, hub_user

from hubconfig.gpu_quota import GpuQuota, Holdings, check, holdings, room
from hubconfig.refusals import SpawnRefused

QUOTA = GpuQuota(per_user=2, per_group={"gpu": 3})
GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.10gb"


def test_within_the_user_quota_passes() -> None:
    check(QUOTA, 1, GPU, set(), Holdings({"a": 1}, {}))


def test_cpu_spawns_never_count() -> None:
    check(GpuQuota(per_user=0), 0, "", {"gpu"}, Holdings({"a": 9}, {"gpu": 9}))


def test_user_quota_counts_named_servers() -> None:
    with pytest.raises(SpawnRefused) as refused:
        check(QUOTA, 1, GPU, set(), Holdings({"": 1, "train": 1}, {}))
    assert refused.value.status_code == 403
    assert refused.value.message == (
        "GPU kind nvidia.com/gpu: "
        "You already hold 2 GPU(s) in: your default server (1), server 'train' (1). "
        "You may hold at most 2 GPU(s) at once and asked for 1 more. "
        "Stop a GPU server first, or choose a CPU profile."
    )


def test_request_above_the_user_quota_alone_is_refused() -> None:
    with pytest.raises(SpawnRefused, match="at most 2 GPU\\(s\\) at once and asked for 3 more"):
        check(QUOTA, 3, GPU, set(), Holdings({}, {}))


def test_a_resource_may_have_its_own_limit() -> None:
    quota = GpuQuota(per_user=1, per_resource={MIG: 3})
    check(quota, 2, MIG, set(), Holdings({"a": 1}, {}))
    with pytest.raises(SpawnRefused) as refused:
        check(quota, 2, GPU, set(), Holdings({}, {}))
    assert refused.value.message.startswith("GPU kind nvidia.com/gpu: You may hold at most 1 GPU")
    assert room(quota, MIG, set(), Holdings({"a": 1}, {})) == 2


def test_group_pool_is_shared_by_its_members() -> None:
    with pytest.raises(SpawnRefused) as refused:
        check(QUOTA, 1, MIG, {"gpu"}, Holdings({}, {"gpu": 3}))
    assert refused.value.message.startswith(
        "GPU kind nvidia.com/mig-1g.10gb: The members of 'gpu' share 3 GPU(s) and 3 are in use"
    )


def test_group_pool_does_not_limit_non_members() -> None:
    check(QUOTA, 1, GPU, {"instructor"}, Holdings({}, {"gpu": 3}))


def test_room_is_the_tightest_limit_and_never_negative() -> None:
    assert room(QUOTA, GPU, set(), Holdings({}, {})) == 2
    assert room(QUOTA, GPU, {"gpu"}, Holdings({"a": 1}, {"gpu": 1})) == 1
    assert room(QUOTA, GPU, {"gpu"}, Holdings({}, {"gpu": 3})) == 0
    assert room(QUOTA, GPU, set(), Holdings({"a": 5}, {})) == 0


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
    held = holdings(alice, starting, QUOTA, GPU)
    assert held.by_server == {"": 1}
    assert held.by_group == {"gpu": 2}


def test_each_resource_is_held_on_its_own() -> None:
    # A MIG slice held does not use up the whole-GPU quota, nor the group's whole-GPU pool.
    registry = FakeUsers()
    alice = hub_user("alice", ["gpu"], registry=registry)
    starting = FakeServer("new", 0)
    alice.spawners = {"slice": FakeServer("slice", 2, gpu_resource_held=MIG), "new": starting}
    assert holdings(alice, starting, QUOTA, GPU) == Holdings({}, {"gpu": 0})
    held = holdings(alice, starting, QUOTA, MIG)
    assert held == Holdings({"slice": 2}, {"gpu": 2})
    check(QUOTA, 2, GPU, {"gpu"}, holdings(alice, starting, QUOTA, GPU))
    with pytest.raises(SpawnRefused, match=r"mig-1g\.10gb: You already hold 2"):
        check(QUOTA, 1, MIG, {"gpu"}, held)


def test_negative_or_garbage_holdings_never_lower_the_total() -> None:
    user = hub_user("alice", ["gpu"])
    starting = FakeServer("new", 0)
    user.spawners = {"bad": FakeServer("bad", -1), "odd": FakeServer("odd", "x"), "new": starting}
    held = holdings(user, starting, QUOTA, GPU)
    assert sum(held.by_server.values()) == 0
    assert held.by_group == {"gpu": 0}
    with pytest.raises(SpawnRefused, match="at most 2 GPU\\(s\\) at once and asked for 3 more"):
        check(QUOTA, 3, GPU, {"gpu"}, held)
