"""The user stories of the dev environment, each as a person does it in a browser.

Needs `python -m devenv.dev_env up`. Each story stops the servers it needs stopped first, so the
stories run in any order (the file order is the cheapest).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from environment import Environment
from hub_api import SERVER_STOP_WAIT_S, HubAdmin, signed_in_session
from pages import HubPages, LabPage, MockMoodlePages
from playwright.sync_api import BrowserContext, Page, expect
from waits import wait_until

from conftest import sign_in
from devenv import cluster_config
from tools.bootstrap.run import run

pytestmark = pytest.mark.cluster

GPU_RESOURCE = "nvidia.com/gpu"
DEEP_LEARNING_PROFILE = "deeplearning"  # the dev values' profile of the lab-deeplearning image
# Its startTimeout in the dev values: the first start on a node pulls the 6.8 GB image.
DEEP_LEARNING_START_TIMEOUT_MS = 600_000
NLP_COURSE = "nlp-101"  # mapped to the `nlp` profile by the dev values' courseProfiles
CPU_PROFILES = {"cpu", "nlp"}
CULLER_SERVICE = "idle-culler"
CULLER_SLACK_S = 180  # beyond the culler's timeout and interval: its first pass, the pod's stop
HUB_RESTART_WAIT_S = 300


def hub_deployment(env: Environment) -> str:
    name = env.kubectl(
        "get", "deployment", "-l", "app.kubernetes.io/component=hub", "-o", "name"
    ).strip()
    return "deployment/" + name.removeprefix("deployment.apps/")


def culler_setting(command: list[str], flag: str) -> int:
    """A number the hub runs the idle culler with (`--flag=N` in its service's command)."""
    prefix = f"--{flag}="
    values = [arg.removeprefix(prefix) for arg in command if arg.startswith(prefix)]
    assert len(values) == 1, f"the culler's command {command} has no single {prefix}"
    return int(values[0])


def lab_pod(env: Environment, username: str) -> dict:
    pods = env.lab_pods(username)
    assert len(pods) == 1, f"expected one lab pod for {username}, found {len(pods)}"
    return pods[0]


def open_running_lab(page: Page, env: Environment, hub_admin: HubAdmin, username: str) -> None:
    """Open the user's JupyterLab, first starting the `cpu` server unless one runs."""
    ensure_running(hub_admin, username)
    page.goto(env.user_url(username, "lab"))
    LabPage(page).wait_until_loaded()


def ensure_running(hub_admin: HubAdmin, username: str) -> None:
    """Start the user's `cpu` server through the API unless one runs (the culler may have
    stopped it between stories)."""
    if not hub_admin.server_running(username):
        response = hub_admin.start_server(username, {"profile": "cpu"})
        assert response.status_code in (201, 202), response.text
        wait_until(
            lambda: hub_admin.server_running(username),
            timeout_s=300,
            what=f"{username}'s server to start",
        )


def start_from_form(page_hub: HubPages, profile: str) -> LabPage:
    page_hub.open_spawn_form()
    page_hub.choose_profile(profile)
    page_hub.submit_spawn_form()
    lab = LabPage(page_hub.page)
    lab.wait_until_loaded()
    return lab


def test_student_runs_a_notebook_on_a_cpu_profile(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """1. `student` signs in through Keycloak, sees only CPU profiles, starts `cpu`, JupyterLab
    loads and a notebook cell prints its result."""
    hub_admin.stop_server("student")
    page = sign_in(new_context(), env, "student")
    hub = HubPages(page, env)
    hub.open_spawn_form()
    offered = set(hub.profile_slugs())
    assert offered, "the spawn form offers no profile"
    assert offered <= CPU_PROFILES, f"student is offered non-CPU profiles: {offered}"
    lab = start_from_form(hub, "cpu")
    assert page.url.startswith(env.user_url("student")), f"the lab is not on its origin: {page.url}"
    lab.new_notebook()
    assert lab.run_cell("print(6 * 7)").strip() == "42"
    # JupyterLab's question about Jupyter news shows within a second of the lab loading, unless
    # the image's settings switch it off (images/README.md); by now the cell has run.
    assert [text for text in lab.notifications() if "Jupyter news" in text] == []
    limits = lab_pod(env, "student")["spec"]["containers"][0]["resources"].get("limits", {})
    assert GPU_RESOURCE not in limits


def test_gpu_student_gets_one_gpu_on_the_gpu_node(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """2. `gpu-student` sees the GPU profile, starts it with one GPU; the pod runs on the GPU
    node with one `nvidia.com/gpu`, and `nvidia-smi` in a JupyterLab terminal shows one GPU.
    The same home then opens in a CPU lab on the other node."""
    hub_admin.stop_server("gpu-student")
    page = sign_in(new_context(), env, "gpu-student")
    hub = HubPages(page, env)
    hub.open_spawn_form()
    assert "gpu" in hub.profile_slugs()
    hub.choose_profile("gpu")
    hub.choose_option("gpu", "gpus", "1")
    hub.submit_spawn_form()
    lab = LabPage(page)
    lab.wait_until_loaded()

    pod = lab_pod(env, "gpu-student")
    gpu_node = pod["spec"]["nodeName"]
    labels = env.kubectl("get", "node", gpu_node, "-o", "jsonpath={.metadata.labels}")
    assert f'"{cluster_config.GPU_NODE_LABEL}":"true"' in labels
    assert pod["spec"]["containers"][0]["resources"]["limits"][GPU_RESOURCE] == "1"

    # Named after this pod, so that no earlier run's file can stand in for this one's output.
    output = f"nvidia-smi-{pod['metadata']['uid']}.txt"
    lab.new_terminal()
    lab.type_in_terminal(f"nvidia-smi -L > {output}")
    wait_until(
        lambda: hub_admin.read_file("gpu-student", output),
        timeout_s=60,
        what="nvidia-smi's output in the terminal's folder",
    )
    listing = hub_admin.read_file("gpu-student", output) or ""
    gpus = [line for line in listing.splitlines() if line.startswith("GPU ")]
    assert len(gpus) == 1, f"nvidia-smi -L listed: {listing!r}"

    # Homes live in a folder every node mounts (e2e/README.md): a CPU lab, which cannot land
    # on the tainted GPU node, finds the file the GPU lab wrote.
    hub_admin.stop_server("gpu-student")
    ensure_running(hub_admin, "gpu-student")
    cpu_node = lab_pod(env, "gpu-student")["spec"]["nodeName"]
    assert cpu_node != gpu_node, f"the CPU lab runs on the GPU node {gpu_node}"
    assert hub_admin.read_file("gpu-student", output) == listing
    hub_admin.delete_file("gpu-student", output)


def test_gpu_student_runs_pytorch_in_the_deep_learning_lab(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """2b. `gpu-student` starts the Deep learning lab: the pod runs the lab-deeplearning image on
    the GPU node with one GPU, a notebook cell imports torch and finds no CUDA device (the dev
    GPUs are fake: no driver), and the top bar shows the lab's memory against its limit. Only
    the GPU node pulled the 6.8 GB image."""
    hub_admin.stop_server("gpu-student")
    page = sign_in(new_context(), env, "gpu-student")
    hub = HubPages(page, env)
    hub.open_spawn_form()
    hub.choose_profile(DEEP_LEARNING_PROFILE)
    hub.submit_spawn_form()
    lab = LabPage(page)
    lab.wait_until_loaded(DEEP_LEARNING_START_TIMEOUT_MS)

    pod = lab_pod(env, "gpu-student")
    container = pod["spec"]["containers"][0]
    assert "/jupyterhub-k8s/lab-deeplearning@" in container["image"], container["image"]
    assert container["resources"]["limits"][GPU_RESOURCE] == "1"
    gpu_node = pod["spec"]["nodeName"]
    labels = env.kubectl("get", "node", gpu_node, "-o", "jsonpath={.metadata.labels}")
    assert f'"{cluster_config.GPU_NODE_LABEL}":"true"' in labels

    lab.new_notebook()
    printed = lab.run_cell("import torch; print(torch.__version__, torch.cuda.is_available())")
    assert re.fullmatch(r"2\.\d+\.\d+\S* False", printed.strip()), printed

    # The figures behind the indicator: the lab's own memory against the limit KubeSpawner set.
    indicators = lab.resource_usage()
    assert any("Mem:" in text for text in indicators), indicators
    assert any("CPU:" in text for text in indicators), indicators
    mem_limit = next(e["value"] for e in container["env"] if e["name"] == "MEM_LIMIT")
    metrics = lab.fetch(env.user_url("gpu-student", "api/metrics/v1"))
    assert metrics.get("status") == 200, metrics
    usage = json.loads(metrics["body"])
    assert usage["limits"]["memory"]["rss"] == int(mem_limit)
    assert 0 < usage["rss"] < int(mem_limit)

    # Nodes pull from the local registry on demand: the control plane never needed the image.
    control_plane = f"{env.deployed.cluster.name}-control-plane"
    assert control_plane != gpu_node
    held = run(["docker", "exec", control_plane, "crictl", "images", "-o", "json"])
    assert "lab-deeplearning" not in held
    hub_admin.stop_server("gpu-student")


def test_student_cannot_forge_the_gpu_profile(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """3. `student` forges the spawn form, then the REST API, to get the GPU profile: refused
    with a clear message each time, and no pod is created."""
    hub_admin.stop_server("student")
    context = new_context()
    page = sign_in(context, env, "student")
    hub = HubPages(page, env)
    hub.open_spawn_form()
    hub.forge_profile("gpu")
    hub.submit_spawn_form()
    expect(page.get_by_text(re.compile("only for members of"))).to_be_visible()
    assert not env.lab_pods("student")

    response = signed_in_session(context, env.hub_url).post(
        f"{env.hub_url}/hub/api/users/student/server",
        json={"profile": "gpu", "gpus": 1},
        timeout=60,
    )
    assert response.status_code == 403, response.text
    assert "only for members of" in response.json()["message"]
    assert not env.lab_pods("student")


@pytest.mark.parametrize(("lti_version", "username"), [("1.1", "student"), ("1.3", "gpu-student")])
def test_moodle_course_launch_opens_the_course_lab(
    new_context: type[BrowserContext],
    env: Environment,
    hub_admin: HubAdmin,
    lti_version: str,
    username: str,
) -> None:
    """4. A Moodle course launch (LTI 1.1, then 1.3) opens the course's lab directly."""
    hub_admin.stop_server(username)
    page = new_context().new_page()
    MockMoodlePages(page, env.mock_moodle_url).launch(lti_version, username, NLP_COURSE)
    LabPage(page).wait_until_loaded()
    image = lab_pod(env, username)["spec"]["containers"][0]["image"]
    assert "lab-nlp" in image, f"the course lab runs {image}, not the course's lab-nlp image"


def test_keycloak_and_moodle_reach_the_same_server(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """5. The same person through Keycloak and then through Moodle reaches the same server and
    files."""
    page = sign_in(new_context(), env, "student")
    open_running_lab(page, env, hub_admin, "student")
    pod_uid = lab_pod(env, "student")["metadata"]["uid"]
    hub_admin.write_file("student", "from-keycloak.txt", "written after a Keycloak login")

    moodle_page = new_context().new_page()
    MockMoodlePages(moodle_page, env.mock_moodle_url).launch("1.1", "student", "101")
    moodle_lab = LabPage(moodle_page)
    moodle_lab.wait_until_loaded()
    assert moodle_page.url.startswith(env.user_url("student"))
    assert lab_pod(env, "student")["metadata"]["uid"] == pod_uid
    listing = moodle_lab.fetch(env.user_url("student", "api/contents/"))
    assert listing.get("status") == 200, listing
    names = {item["name"] for item in json.loads(listing["body"])["content"]}
    assert "from-keycloak.txt" in names


def test_idle_server_is_culled(env: Environment, hub_admin: HubAdmin) -> None:
    """6. The idle culler stops an idle server after the dev environment's short timeout: the
    culler logs that it culls it, and nothing stopped it before it had been idle that long."""
    hub_admin.stop_server("instructor")
    hub_admin.ensure_user("instructor")
    culler = hub_admin.service(CULLER_SERVICE)["command"]
    timeout_s, every_s = culler_setting(culler, "timeout"), culler_setting(culler, "cull-every")
    started_at = datetime.now(UTC)
    response = hub_admin.start_server("instructor", {"profile": "cpu"})
    assert response.status_code in (201, 202), response.text
    wait_until(
        lambda: hub_admin.server_running("instructor"),
        timeout_s=300,
        what="instructor's server to start",
    )

    last_record = hub_admin.server("instructor")
    assert last_record is not None, "instructor's server went as soon as it was ready"

    def stopping() -> bool:
        """Whether a stop began; until then keep the record (a stop sets its last activity)."""
        nonlocal last_record
        record = hub_admin.server("instructor")
        if record is None or record.get("pending") == "stop":
            return True
        last_record = record
        return False

    wait_until(
        stopping,
        timeout_s=timeout_s + every_s + CULLER_SLACK_S,
        what="the idle culler to stop instructor's server",
    )
    stopped_at = datetime.now(UTC)
    # The culler's measure: the last activity, or the start when there was none.
    last_activity = datetime.fromisoformat(last_record["last_activity"] or last_record["started"])
    idle_s = (stopped_at - last_activity).total_seconds()
    assert idle_s >= timeout_s, f"stopped after {idle_s:.0f} s idle, before the {timeout_s} s"
    hub_log = env.kubectl("logs", hub_deployment(env), f"--since-time={started_at.isoformat()}")
    culled = [line for line in hub_log.splitlines() if "Culling server instructor " in line]
    assert culled, "the idle culler did not log culling instructor's server"
    wait_until(
        lambda: not hub_admin.server_exists("instructor") and not env.lab_pods("instructor"),
        timeout_s=SERVER_STOP_WAIT_S,
        what="instructor's culled server and pod to go",
    )


def test_hub_restart_keeps_the_running_server(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """7. Restarting the hub pod leaves running user servers reachable and in the hub's record,
    the GPUs they hold still counted, and no work is lost."""
    page = sign_in(new_context(), env, "student")
    open_running_lab(page, env, hub_admin, "student")
    pod_uid = lab_pod(env, "student")["metadata"]["uid"]
    hub_admin.write_file("student", "before-restart.txt", "work in progress")
    hub_admin.stop_server("gpu-student")
    response = hub_admin.start_server("gpu-student", {"profile": "gpu", "gpus": 1})
    assert response.status_code in (201, 202), response.text
    wait_until(
        lambda: hub_admin.server_running("gpu-student"),
        timeout_s=300,
        what="gpu-student's GPU server to start",
    )
    gpu_pod_uid = lab_pod(env, "gpu-student")["metadata"]["uid"]

    hub = hub_deployment(env)
    env.kubectl("rollout", "restart", hub)
    env.kubectl(
        "rollout", "status", hub, f"--timeout={HUB_RESTART_WAIT_S}s",
        timeout=HUB_RESTART_WAIT_S + 30,
    )  # fmt: skip
    wait_until(
        lambda: hub_admin.session.get(f"{env.hub_url}/hub/health", timeout=5).ok,
        timeout_s=HUB_RESTART_WAIT_S,
        what="the restarted hub to answer",
    )

    assert hub_admin.server_running("student"), hub_admin.server("student")
    assert hub_admin.server_running("gpu-student"), hub_admin.server("gpu-student")
    page.reload()
    LabPage(page).wait_until_loaded()
    assert lab_pod(env, "student")["metadata"]["uid"] == pod_uid
    assert lab_pod(env, "gpu-student")["metadata"]["uid"] == gpu_pod_uid
    assert hub_admin.read_file("student", "before-restart.txt") == "work in progress"

    # The quota allows one GPU per user: the restarted hub must still count the running one.
    second = {"profile": "gpu", "gpus": 1}
    refused = hub_admin.start_named_server("gpu-student", "second-gpu", second)
    assert refused.status_code == 403, refused.text
    assert "You already hold 1 GPU(s)" in refused.json()["message"]
    hub_admin.remove_named_server("gpu-student", "second-gpu")


def test_profiles_and_admin_page_follow_groups(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """8. `instructor` sees the course profiles; `admin` reaches the admin page; `student` not."""
    hub_admin.stop_server("instructor")
    instructor = HubPages(sign_in(new_context(), env, "instructor"), env)
    instructor.open_spawn_form()
    assert {"cpu", "nlp", "gpu"} <= set(instructor.profile_slugs())

    admin = HubPages(sign_in(new_context(), env, "admin"), env)
    assert admin.goto_admin() == 200
    expect(
        admin.page.locator("#react-admin-hook, [data-testid='user-table']").first
    ).to_be_visible()

    student = HubPages(sign_in(new_context(), env, "student"), env)
    assert student.goto_admin() == 403


def test_signing_out_ends_the_campus_login_on_a_shared_computer(
    new_context: type[BrowserContext], env: Environment
) -> None:
    """9. On a shared lab computer `student` signs out; whoever sits down next is asked for a
    Keycloak password rather than signed straight back in as `student`."""
    student = HubPages(sign_in(new_context(), env, "student"), env)

    student.sign_out()

    student.page.locator("#multilogin-keycloak").click()
    expect(student.page.locator("#kc-form-login")).to_be_visible()


def test_a_students_server_cannot_read_the_hub_as_the_admin_who_opens_it(
    new_context: type[BrowserContext], env: Environment, hub_admin: HubAdmin
) -> None:
    """10. `admin` opens `student`'s JupyterLab (admins may); script that the student's server
    serves runs on the student's origin, so the browser refuses it the hub's pages, which would
    carry the admin's session (JupyterHub's security overview: user content must not share the
    hub's origin)."""
    page = sign_in(new_context(), env, "admin")
    ensure_running(hub_admin, "student")
    lab = LabPage(page)
    lab.open_someone_elses(env.user_url("student", "lab"))
    assert page.url.startswith(env.user_url("student")), f"not on student's origin: {page.url}"

    hub_page = lab.fetch(f"{env.hub_url}/hub/admin")
    assert "blocked" in hub_page, f"the student's page read the hub as admin: {hub_page}"
