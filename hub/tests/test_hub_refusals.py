"""A real JupyterHub, configured by the chart's jupyterhub_config.py, refuses what it must.

The hub runs as a host process with the chart's config file and values. Its spawner is the
chart's ProfileSpawner up to the pod: where KubeSpawner would create one, `podless_spawner`
answers HTTP itself, so an accepted request starts a server the tests can see and stop, and no
Kubernetes API is needed (the kubeconfig points nowhere).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from hub_fakes import PROFILES, hub_environment, values_with

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = REPO_ROOT / "helm" / "jupyterhub-k8s" / "files" / "jupyterhub_config.py"
SERVICE_TOKEN = "0123456789abcdef" * 4
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hub_values(port: int) -> dict:
    profiles = [dict(profile) for profile in PROFILES]
    profiles[0]["allowedGroups"] = ["students", "gpu"]
    return values_with(
        {
            "hub": {
                "db": {"type": "sqlite-memory"},
                "services": {"tester": {"apiToken": SERVICE_TOKEN}},
                "loadRoles": {
                    "tester": {"scopes": ["admin:users", "admin:servers"], "services": ["tester"]}
                },
                "config": {
                    "JupyterHub": {
                        "authenticator_class": "dummy",
                        "proxy_class": "memory_proxy.MemoryProxy",
                        "spawner_class": "podless_spawner.PodlessProfileSpawner",
                        "hub_bind_url": f"http://127.0.0.1:{port}",
                        "hub_connect_url": f"http://127.0.0.1:{port}",
                        "load_groups": {
                            "students": {"users": ["stu", "grace--x"]},
                            "gpu": {"users": ["grace"]},
                            "visitors": {"users": ["outsider"]},
                        },
                    },
                    "Authenticator": {"allow_all": True},
                },
            },
            "singleuser": {
                "images": {"lab-nlp": {"name": "example/lab-nlp", "tag": "7"}},
                "profileList": profiles,
            },
            # The culler would call the hub on its pod-local port 8081, not this test port.
            "cull": {"enabled": False},
        }
    )


def hub_process_environment(workdir: Path, chart_values: dict) -> dict[str, str]:
    """The environment of a `jupyterhub` process with these values and a kubeconfig that points
    nowhere, as the chart's Deployment would give it."""
    values_path = workdir / "values.yaml"
    values_path.write_text(yaml.safe_dump(chart_values))
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: none\n"
        "clusters: [{name: none, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: none, user: {token: none}}]\n"
        "contexts: [{name: none, context: {cluster: none, user: none}}]\n"
    )
    return {
        **os.environ,
        **hub_environment(values_path),
        "KUBECONFIG": str(kubeconfig),
        # memory_proxy and podless_spawner live next to this file; the rest as for the tests.
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path]),
    }


HUB_COMMAND = [sys.executable, "-m", "jupyterhub", f"--config={CONFIG_FILE}"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("hub")
    port = free_port()
    env = hub_process_environment(workdir, hub_values(port))
    log = (workdir / "hub.log").open("w")
    process = subprocess.Popen(
        HUB_COMMAND, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_hub(url, process, workdir / "hub.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def wait_for_hub(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the hub exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(f"{url}/hub/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the hub did not answer within {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


def api(hub: str, method: str, path: str, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"token {SERVICE_TOKEN}"}
    return requests.request(method, f"{hub}/hub/api{path}", headers=headers, timeout=30, **kwargs)


def spawn(hub: str, user: str, options: dict) -> requests.Response:
    return api(hub, "POST", f"/users/{user}/server", json=options)


def assert_no_server(hub: str, user: str) -> None:
    model = api(hub, "GET", f"/users/{user}").json()
    assert model["servers"] == {}, model["servers"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("user", "options", "status", "message"),
    [
        ("stu", {"profile": "gpu"}, 403, "'GPU lab' is only for members of: gpu, instructor"),
        ("grace", {"profile": "gpu", "gpus": 3}, 403, "offers at most 2 GPU(s); 3 were requested"),
        ("grace", {"profile": "cpu", "gpus": 1}, 403, "'Python lab' has no GPUs"),
        ("grace", {"profile": "cpu", "gpus": -1}, 400, "cannot be negative; -1 was requested"),
        ("grace", {"profile": "gpu", "gpus": "²"}, 400, "whole number written with the digits"),
        ("grace", {"profile": "cpu", "image": "x/y"}, 400, "Unknown server option(s): image"),
        ("grace", {"profile": "tpu"}, 400, "There is no profile named 'tpu'"),
        ("outsider", {}, 403, "No lab profile is available to your account"),
    ],
)
def test_refused_spawn_explains_and_starts_nothing(
    hub: str, user: str, options: dict, status: int, message: str
) -> None:
    response = spawn(hub, user, options)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert_no_server(hub, user)


@pytest.mark.integration
@pytest.mark.parametrize("gpus", ["²", -1])
def test_refused_options_are_not_kept_for_the_next_start(hub: str, gpus: object) -> None:
    """JupyterHub stores the options before the check and reuses them for a start without any."""
    assert spawn(hub, "grace", {"profile": "cpu", "gpus": gpus}).status_code == 400
    model = api(hub, "GET", "/users/grace", params={"include_stopped_servers": "1"}).json()
    stored = [server["user_options"] for server in model["servers"].values()]
    assert not any(stored), stored


def wait_for_servers(hub: str, user: str, expected: dict[str, bool]) -> None:
    """Until the user's servers are `expected` ({name: ready}); fails after START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        servers = api(hub, "GET", f"/users/{user}").json()["servers"]
        if {name: server["ready"] for name, server in servers.items()} == expected:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{user}'s servers are {servers}, not {expected}")
        time.sleep(0.2)


@pytest.mark.integration
def test_a_refused_gpu_count_neither_blocks_the_next_start_nor_lowers_the_quota(hub: str) -> None:
    # grace may hold 1 GPU (the chart's gpuQuota.perUser); -1 on a CPU lab used to be recorded
    # as -1 GPUs held, so a second server then got 2.
    assert spawn(hub, "grace", {"profile": "cpu", "gpus": -1}).status_code == 400
    try:
        # No body: JupyterHub reuses the stored options, so the refused ones must be gone.
        started = api(hub, "POST", "/users/grace/server")
        assert started.status_code in (201, 202), started.text
        wait_for_servers(hub, "grace", {"": True})
        more = api(hub, "POST", "/users/grace/servers/train", json={"profile": "gpu", "gpus": 2})
        assert more.status_code == 403, more.text
        assert "may hold at most 1 GPU(s) at once and asked for 2" in more.json()["message"]
    finally:
        api(hub, "DELETE", "/users/grace/server")
        wait_for_servers(hub, "grace", {})


@pytest.mark.integration
def test_an_account_name_outside_the_pattern_gets_no_lab(hub: str) -> None:
    # Created by the hub's configuration (as an administrator may create any name), this name
    # would give the pod name of user grace's server "x".
    response = spawn(hub, "grace--x", {})
    assert response.status_code == 403, response.text
    assert "The account 'grace--x' cannot have a lab on this hub" in response.json()["message"]
    assert_no_server(hub, "grace--x")


@pytest.mark.integration
def test_user_without_profiles_gets_a_page_not_an_empty_form(hub: str) -> None:
    browser = requests.Session()
    login = browser.get(f"{hub}/hub/login", timeout=30)
    xsrf = browser.cookies.get("_xsrf")
    assert login.ok and xsrf
    browser.post(
        f"{hub}/hub/login",
        data={"username": "outsider", "password": "x", "_xsrf": xsrf},
        timeout=30,
    )
    page = browser.get(f"{hub}/hub/spawn", timeout=30)
    assert page.status_code == 403
    assert "No lab profile is available to your account (your groups: visitors)" in page.text
    assert 'name="profile"' not in page.text


@pytest.mark.integration
def test_values_breaking_a_rule_across_keys_stop_the_hub_at_start(tmp_path: Path) -> None:
    chart_values = hub_values(free_port())
    chart_values["singleuser"]["profileList"][2]["image"] = "gpu-lab2"
    env = hub_process_environment(tmp_path, chart_values)
    stopped = subprocess.run(
        HUB_COMMAND, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S
    )
    assert stopped.returncode != 0, stopped.stdout
    assert "singleuser.profileList[2].image: unknown image key 'gpu-lab2'" in stopped.stderr
