"""A lab's pod and home claim are named after its user without a hash, so no two users share one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    FakeOrmSpawner,
    chart_values_fixture,
    hub_user,
    make_spawner,
    offline_kubeconfig_fixture,
)
from traitlets.config import Config

from hubconfig import configure, lab_names, values
from hubconfig.config import Deployment
from hubconfig.refusals import SpawnRefused
from hubconfig.spawner import ProfileSpawner
from multilogin.usernames import DEFAULT_USERNAME_PATTERN

pytestmark = pytest.mark.usefixtures("offline_kubeconfig")

# Both in the authenticator's username pattern, 49 characters long: KubeSpawner's safe slug hashes
# them to the same `studentwithaverylongnamefromtheregist---9d71bccc` (a birthday search over the
# numbered suffixes found them within 64,000 tries: the hash has 32 bits).
SLUG_TWINS = (
    "studentwithaverylongnamefromtheregistrysyst002228",
    "studentwithaverylongnamefromtheregistrysyst063668",
)
USERNAMES = ["a", "b", "ab", "a-b", "1abc", "x-1abc", "9", "z" * 63, "z" * 62 + "y", *SLUG_TWINS]
SERVERS = ["", "b", "a-b", "gpu", "x" * 30]
# RFC 1123 subdomain, which Kubernetes requires of pod and claim names.
OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def names(chart_values: dict, username: str, server: str) -> tuple[str, str]:
    """Pod and claim name of a spawner configured as the chart configures the hub."""
    config = Config()
    configure(config, chart_values, Deployment(Path("/unused"), "jh", "teaching", "hub", "proxy"))
    user = hub_user(username, ["students"])
    spawner = ProfileSpawner(
        config=config, user=user, orm_spawner=FakeOrmSpawner(server), _mock=True
    )
    return spawner.pod_name, spawner.pvc_name


async def test_users_in_the_pattern_never_share_a_pod_or_a_home(chart_values: dict) -> None:
    pods: dict[str, tuple[str, str]] = {}
    homes: dict[str, set[str]] = {}
    for username in USERNAMES:
        for server in SERVERS:
            pod, home = names(chart_values, username, server)
            assert pods.setdefault(pod, (username, server)) == (username, server), pod
            homes.setdefault(home, set()).add(username)
            assert OBJECT_NAME.fullmatch(pod) and len(pod) <= 253, pod
            assert OBJECT_NAME.fullmatch(home) and len(home) <= 253, home
    assert all(len(users) == 1 for users in homes.values()), homes
    assert len(homes) == len(USERNAMES)


async def test_names_are_the_username_unchanged(chart_values: dict) -> None:
    assert names(chart_values, "a", "") == ("jupyter-a", "claim-a")
    assert names(chart_values, "a", "b") == ("jupyter-a--b", "claim-a")
    assert names(chart_values, "1abc", "") == ("jupyter-1abc", "claim-1abc")


PER_SERVER = "claim-{unescaped_username}--{servername}"
# Server names a user may try for someone else's claim: KubeSpawner hashes those that are not safe
# slugs (a leading hyphen, a double hyphen, capitals) instead of using them as they are.
HOSTILE_SERVERS = [*SERVERS, "-b", "b--c", "B", "a--b", "-", "x" * 31]


def per_server(chart_values: dict) -> dict:
    chart_values["singleuser"]["storage"]["dynamic"]["pvcNameTemplate"] = PER_SERVER
    return chart_values


async def test_per_server_homes_give_every_server_its_own_claim(chart_values: dict) -> None:
    per_server(chart_values)
    homes: dict[str, tuple[str, str]] = {}
    for username in USERNAMES:
        for server in HOSTILE_SERVERS:
            _, home = names(chart_values, username, server)
            assert homes.setdefault(home, (username, server)) == (username, server), home
            assert OBJECT_NAME.fullmatch(home) and len(home) <= 253, home


async def test_per_server_homes_keep_the_default_servers_claim(chart_values: dict) -> None:
    # Switching to per-server homes leaves every user's default server on its claim.
    assert names(per_server(chart_values), "a", "")[1] == "claim-a"
    assert names(chart_values, "a", "b")[1] == "claim-a--b"


async def test_a_started_server_keeps_its_claim_when_the_template_changes(
    chart_values: dict,
) -> None:
    # KubeSpawner remembers a server's claim in its state (remember_pvc_name).
    config = Config()
    configure(config, per_server(chart_values), Deployment(Path("/u"), "jh", "t", "hub", "px"))
    spawner = ProfileSpawner(
        config=config, user=hub_user("a", []), orm_spawner=FakeOrmSpawner("b"), _mock=True
    )
    spawner.load_state({"pvc_name": "claim-a"})
    assert spawner.pvc_name == "claim-a"


async def test_z2jhs_claim_template_is_refused_because_it_collides(chart_values: dict) -> None:
    z2jh = "claim-{username}{servername}"
    chart_values["singleuser"]["storage"]["dynamic"]["pvcNameTemplate"] = z2jh
    # Were it configured, user a's server b would mount user ab's home.
    assert names(chart_values, "ab", "")[1] == names(chart_values, "a", "b")[1] == "claim-ab"
    (problem,) = values.describe_errors(chart_values)
    assert problem.startswith("singleuser.storage.dynamic.pvcNameTemplate: ")
    assert "is not one of ['claim-{unescaped_username}'," in problem


async def test_usernames_whose_safe_slugs_collide_get_their_own_home(chart_values: dict) -> None:
    first, second = (names(chart_values, username, "") for username in SLUG_TWINS)
    assert first[1] != second[1]
    assert first[0] != second[0]


@pytest.mark.parametrize(
    "username",
    ["a--b", "Alice", "-a", "a-", "a_b", "a.b", "jörg", "a" * 64, "a b", "\uff11"],
)
async def test_a_username_outside_the_pattern_gets_no_lab(
    chart_values: dict, username: str
) -> None:
    spawner = make_spawner(chart_values, hub_user(username, ["students"]))
    spawner.orm_spawner.user_options = {"profile": "cpu"}
    with pytest.raises(SpawnRefused) as refused:
        await spawner.check_and_apply({"profile": "cpu"})
    assert not spawner.orm_spawner.user_options
    assert refused.value.status_code == 403
    assert f"The account {username!r} cannot have a lab on this hub" in refused.value.message
    assert "Ask the hub's administrators to rename the account" in refused.value.message
    with pytest.raises(SpawnRefused, match="options were not checked"):
        await spawner.load_user_options()


def test_the_spawners_username_pattern_is_the_authenticators_default():
    """Two packages, one rule: the authenticator admits exactly the names labs can be named by."""
    assert lab_names.USERNAME_PATTERN == DEFAULT_USERNAME_PATTERN
