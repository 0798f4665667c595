"""Lab images: docker-stacks conventions, jupyterhub-singleuser, and their libraries."""

import json
import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
from containers import Container, docker_run, python_json

LABS = ["lab-base", "lab-nlp", "lab-deeplearning", "lab-deeplearning-cu12"]
DEEP_LEARNING_LABS = ["lab-deeplearning", "lab-deeplearning-cu12"]
# Its image table names each GPU lab's CUDA build and oldest GPU architecture.
GPU_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "gpus.md"
BASE_IMPORTS = "import numpy, pandas, matplotlib, jupyterlab, terminado, jupyter_server_terminals"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in LABS])
def test_lab_follows_docker_stacks_conventions(name: str, image: str) -> None:
    assert docker_run(image, "id", "-un").strip() == "jovyan"
    assert docker_run(image, "id", "-u").strip() == "1000"
    assert docker_run(image, "id", "-g").strip() == "100"
    assert docker_run(image, "sh", "-c", "echo $HOME; pwd").split() == ["/home/jovyan"] * 2
    assert "SingleUser" in docker_run(image, "jupyterhub-singleuser", "--help-all")
    assert docker_run(image, "jupyterhub-singleuser", "--version").startswith("6.")
    assert docker_run(image, "git", "--version").startswith("git version")
    found = python_json(
        image, f"{BASE_IMPORTS}; import json; print(json.dumps(jupyterlab.__version__))"
    )
    assert found.startswith("4.")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in LABS])
def test_each_package_is_installed_once_and_consistent(name: str, image: str) -> None:
    """Images built on lab-base add packages; a second copy of one of its own would show here."""
    found = python_json(
        image,
        "import collections, importlib.metadata as m, json;"
        " names = collections.Counter(d.metadata['Name'].lower() for d in m.distributions());"
        " print(json.dumps(sorted(n for n, count in names.items() if count > 1)))",
    )
    assert found == []
    assert "No broken requirements" in docker_run(image, "python3", "-m", "pip", "check")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in LABS])
def test_jovyan_can_install_into_the_environment(name: str, image: str) -> None:
    assert docker_run(image, "sh", "-c", "test -w /opt/venv/lib && echo writable").strip() == (
        "writable"
    )


# JupyterLab on its own, without a hub, and with authentication off: only reachable from here.
STANDALONE_LAB = (
    "jupyter",
    "lab",
    "--ip=0.0.0.0",
    "--port=8888",
    "--no-browser",
    "--IdentityProvider.token=",
    "--ServerApp.password=",
    "--ServerApp.disable_check_xsrf=True",
)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in LABS])
def test_jupyterlab_serves_a_terminal_and_a_python_kernel(name: str, image: str, start) -> None:
    lab = start(image, *STANDALONE_LAB, ports=(8888,))
    lab.wait_for_http(8888, "/api", timeout=120)
    assert b"JupyterLab" in lab.wait_for_http(8888, "/lab")
    assert lab.post(8888, "/api/terminals", {})["name"]
    assert lab.post(8888, "/api/kernels", {"name": "python3"})["name"] == "python3"


NOTIFICATIONS = "@jupyterlab/apputils-extension:notification"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in LABS])
def test_jupyterlab_neither_asks_about_nor_fetches_news(name: str, image: str, start) -> None:
    """With `fetchNews` at JupyterLab's default ("none"), the first open asks whether to fetch
    Jupyter news; the image's overrides make "false" the default all users' settings start from."""
    lab = start(image, *STANDALONE_LAB, ports=(8888,))
    lab.wait_for_http(8888, "/api", timeout=120)
    found = json.loads(lab.wait_for_http(8888, f"/lab/api/settings/{NOTIFICATIONS}"))
    defaults = {key: value["default"] for key, value in found["schema"]["properties"].items()}
    assert (defaults["fetchNews"], defaults["checkForUpdates"]) == ("false", False)
    assert found["raw"] == "{}", "a fresh user has no settings of their own that could decide it"


TOKEN = "smoke-test-token"
LAB_WITH_TOKEN = ("jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser")
# An instructor's repository with one notebook (also named `course.git`), served over git's
# smart HTTP protocol (what GitHub and GitLab speak; nbgitpuller's shallow clones need it) by
# `git http-backend` under Python's CGI server, in the lab's own container: the container
# reaches no other host.
SERVED = "/tmp/served"  # noqa: S108 - a folder inside the test's own container
COURSE = "http://127.0.0.1:8000/cgi-bin/git/course"
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
BACKEND = (
    f"#!/bin/sh\nexport GIT_PROJECT_ROOT={SERVED}/repos GIT_HTTP_EXPORT_ALL=1\n"
    "exec git http-backend\n"
)
PUBLISH_COURSE = (
    f"set -e; mkdir -p {SERVED}/cgi-bin; printf {shlex.quote(BACKEND)} > {SERVED}/cgi-bin/git;"
    f" chmod +x {SERVED}/cgi-bin/git; git init -q --bare {SERVED}/repos/course;"
    f" git clone -q {SERVED}/repos/course /tmp/w; cd /tmp/w;"
    f" echo {shlex.quote(NOTEBOOK)} > intro.ipynb; git add intro.ipynb;"
    " git -c user.name=Teacher -c user.email=t@example.org commit -qm 'Week 1';"
    f" git push -q origin HEAD; ln -s course {SERVED}/repos/course.git"
)


def lab_serving_a_course(image: str, start) -> Container:
    lab = start(image, *LAB_WITH_TOKEN, f"--IdentityProvider.token={TOKEN}", ports=(8888,))
    lab.wait_for_http(8888, "/api", timeout=120)
    lab.wait_for_exec("sh", "-c", PUBLISH_COURSE)
    serve = ["python3", "-m", "http.server", "8000", "--cgi", "--bind", "127.0.0.1"]
    subprocess.run(["docker", "exec", "-d", "-w", SERVED, lab.id, *serve], check=True)
    lab.wait_for_exec("git", "ls-remote", COURSE)
    return lab


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in LABS])
def test_an_instructors_git_pull_link_puts_the_course_in_the_home_folder(
    name: str, image: str, start
) -> None:
    lab = lab_serving_a_course(image, start)
    link = urlencode({"repo": COURSE, "urlpath": "lab/tree/course/intro.ipynb"})
    status, page = lab.get(8888, f"/git-pull?{link}", TOKEN)
    assert status == 200
    assert b"lab/tree/course/intro.ipynb" in page, "the page sends the student on to the notebook"
    # The page's script follows the pull on this event stream; it ends when the pull has.
    pulls = [
        ({"repo": COURSE}, "course"),
        ({"repo": f"{COURSE}.git"}, "course.git"),
        ({"repo": COURSE, "branch": "master", "targetpath": "week1"}, "week1"),
    ]
    for query, folder in pulls:
        status, events = lab.get(8888, f"/git-pull/api?{urlencode(query)}", TOKEN)
        assert (status, b'"phase": "finished"' in events) == (200, True), events.decode()[-2000:]
        status, listing = lab.get(8888, f"/api/contents/{folder}", TOKEN)
        assert status == 200
        assert "intro.ipynb" in [entry["name"] for entry in json.loads(listing)["content"]]
        owner = lab.wait_for_exec("stat", "-c", "%U", f"/home/jovyan/{folder}/intro.ipynb")
        assert owner.strip() == "jovyan"


# Links a forum post could carry: the page (`/git-pull`) renders `repo` and the path unescaped;
# the pull (`/git-pull/api`) clones where `targetpath` says. Each must get a 400 naming its key.
PAGE, PULL = "/git-pull", "/git-pull/api"
# A course repository whose name is the folder IPython runs the startup files of.
HIDDEN_REPO = "http://127.0.0.1:8000/cgi-bin/git/.ipython"
HOSTILE_LINKS = [
    (PAGE, urlencode({"repo": '"><script>alert(1)</script>'}), "repo"),
    (PAGE, urlencode({"repo": "javascript:alert(1)//x"}), "repo"),
    (
        PAGE,
        urlencode({"repo": COURSE, "urlpath": "lab/tree/<img src=x onerror=alert(1)>"}),
        "urlpath",
    ),
    (
        PULL,
        urlencode({"repo": COURSE, "targetpath": ".ipython/profile_default/startup"}),
        "targetpath",
    ),
    (PULL, urlencode({"repo": COURSE, "targetPath": "/opt/venv/etc/ipython"}), "targetPath"),
    (PULL, urlencode({"repo": COURSE, "targetpath": "course/../../escaped"}), "targetpath"),
    # nbgitpuller strips whitespace, Unicode spaces too, from what it reads.
    (PULL, urlencode({"repo": COURSE, "targetpath": " /opt/venv/etc/ipython"}), "targetpath"),
    # The page hands its targetPath to the pull as targetpath.
    (
        PAGE,
        urlencode({"repo": COURSE, "targetPath": "\u00a0.ipython/profile_default"}),
        "targetPath",
    ),
    # Without targetpath the clone goes into the folder the repo URL ends with; the pull reads
    # no targetPath.
    (PULL, urlencode({"repo": HIDDEN_REPO}), "repo"),
    (PULL, urlencode({"repo": HIDDEN_REPO, "targetPath": "course"}), "repo"),
    (PULL, urlencode({"repo": f"{COURSE}?/.ipython"}), "repo"),
    (PAGE, urlencode({"repo": f"{HIDDEN_REPO}/"}), "repo"),
    (PULL, urlencode({"repo": COURSE, "depth": "\u00b2"}), "depth"),
    (PULL, urlencode({"repo": COURSE, "branch": "--upload-pack=touch /tmp/x"}), "branch"),
    (PULL, urlencode({"repo": f"file://{SERVED}/repos/course"}), "repo"),
    (PULL, urlencode({"repo": COURSE, "depth": "1 --upload-pack=x"}), "depth"),
    (PULL, f"{urlencode({'repo': COURSE})}&subpath=%FF", "subpath"),
    # nbgitpuller's old routes redirect to the page with the same query.
    ("/git-sync", urlencode({"repo": '"><script>alert(1)</script>'}), "repo"),
    ("/interact", urlencode({"repo": '"><script>alert(1)</script>'}), "repo"),
]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in LABS])
def test_git_pull_refuses_links_that_inject_script_or_write_outside_the_home_folder(
    name: str, image: str, start
) -> None:
    lab = lab_serving_a_course(image, start)
    for route, query, key in HOSTILE_LINKS:
        status, body = lab.get(8888, f"{route}?{query}", TOKEN)
        assert status == 400, (query, body.decode()[-2000:])
        assert f"{key}: ".encode() in body, (query, body.decode()[-2000:])
        assert b"<script>alert" not in body and b"Traceback" not in body
    cloned = (
        "ls -d /opt/venv/etc/ipython /home/escaped /home/jovyan/.ipython/*/startup/.git"
        " /home/jovyan/.ipython/.git"
    )
    assert lab.wait_for_exec("sh", "-c", f"{cloned} 2>/dev/null; true").strip() == ""


# What KubeSpawner puts in a lab's environment from its profile's limits: bytes and cores.
MEM_LIMIT = 1536 * 1024**2
CPU_LIMIT = 1.5
RESOURCE_USAGE = "@jupyter-server/resource-usage:topbar-item"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in LABS])
def test_the_lab_reports_its_memory_and_cpu_use_against_its_limits(
    name: str, image: str, start
) -> None:
    lab = start(
        image,
        *LAB_WITH_TOKEN,
        f"--IdentityProvider.token={TOKEN}",
        ports=(8888,),
        env={"MEM_LIMIT": str(MEM_LIMIT), "CPU_LIMIT": str(CPU_LIMIT)},
    )
    lab.wait_for_http(8888, "/api", timeout=120)
    status, body = lab.get(8888, "/api/metrics/v1", TOKEN)
    assert status == 200, body.decode()[-2000:]
    metrics = json.loads(body)
    assert 10 * 1024**2 < metrics["rss"] < MEM_LIMIT, "the server's own memory, under the limit"
    assert metrics["limits"]["memory"]["rss"] == MEM_LIMIT
    assert metrics["limits"]["cpu"]["cpu"] == CPU_LIMIT
    assert metrics["cpu_percent"] >= 0
    # The indicator in JupyterLab's top bar is on for every user (the labs' overrides.json).
    status, body = lab.get(8888, f"/lab/api/settings/{RESOURCE_USAGE}", TOKEN)
    assert status == 200, body.decode()[-2000:]
    assert json.loads(body)["schema"]["properties"]["enable"]["default"] is True
    assert lab.get(8888, "/api/metrics/v1")[0] == 403, "a request without the token"


@pytest.mark.image("lab-nlp")
def test_nlp_libraries_work_on_cpu(image: str) -> None:
    found = python_json(
        image,
        "import json, spacy, nltk, gensim, transformers;"
        " from gensim.models import Word2Vec;"
        " tokens = [t.text for t in spacy.blank('en')('Labs run on CPUs.')];"
        " model = Word2Vec([['gpu', 'cpu'], ['cpu', 'lab']], vector_size=4, min_count=1);"
        " print(json.dumps({'tokens': tokens, 'vector': len(model.wv['cpu']),"
        " 'transformers': transformers.__version__}))",
    )
    assert found["tokens"] == ["Labs", "run", "on", "CPUs", "."]
    assert found["vector"] == 4


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.image(n)) for n in DEEP_LEARNING_LABS]
)
def test_pytorch_falls_back_to_cpu_without_a_gpu(name: str, image: str) -> None:
    """No NVIDIA driver in the container: torch imports, says no CUDA device, computes on CPU,
    and writes nothing to stderr (no traceback, no warning a student would take for an error).
    Its CUDA build and oldest GPU architecture are the ones docs/gpus.md lists."""
    # The architectures: torch.cuda.get_arch_list() is empty without a GPU, and it only reads
    # the flags the wheel was compiled with, which _cuda_getArchFlags() returns.
    code = (
        "import json, importlib.metadata as m, torch, transformers, datasets;"
        " x = torch.ones(2, 2);"
        " runtimes = [d.version for d in m.distributions()"
        " if d.metadata['Name'].lower().replace('_', '-')"
        " in ('nvidia-cuda-runtime', 'nvidia-cuda-runtime-cu12')];"
        " print(json.dumps({'cuda': torch.cuda.is_available(),"
        " 'devices': torch.cuda.device_count(), 'sum': float((x @ x).sum()),"
        " 'cuda_build': torch.version.cuda, 'torch': torch.__version__, 'runtimes': runtimes,"
        " 'archs': torch._C._cuda_getArchFlags().split()}))"
    )
    result = subprocess.run(
        ["docker", "run", "--rm", image, "python3", "-c", code],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert (found["cuda"], found["devices"], found["sum"]) == (False, 0, 8.0)
    assert found["torch"].startswith("2.")
    assert found["cuda_build"], "PyTorch from PyPI should be the CUDA build"
    (runtime,) = found["runtimes"]
    assert runtime.startswith(f"{found['cuda_build']}."), "the CUDA runtime PyTorch was built for"
    if name.endswith("-cu12"):
        assert found["cuda_build"].startswith("12."), found["cuda_build"]
    row = re.search(rf"^\| `{name}` \|.*$", GPU_GUIDE.read_text(), re.MULTILINE)
    assert row, f"docs/gpus.md has no row for {name}"
    oldest = min(int(arch.removeprefix("sm_")) for arch in found["archs"])
    assert f"| {found['cuda_build']} |" in row[0] and f"(sm_{oldest}:" in row[0], row[0]


@pytest.mark.image("lab-deeplearning")
def test_nvidias_gpu_dashboard_finds_no_gpu_without_nvml_and_jupyterlab_still_works(
    image: str, start
) -> None:
    """jupyterlab-nvdashboard reads GPUs through NVML, which NVIDIA's container toolkit mounts on
    a real GPU node; without it (here, and on the dev cluster's fake GPUs) it reports none."""
    lab = start(image, *LAB_WITH_TOKEN, f"--IdentityProvider.token={TOKEN}", ports=(8888,))
    lab.wait_for_http(8888, "/api", timeout=120)
    status, body = lab.get(8888, "/nvdashboard/accelerators/check", TOKEN)
    assert status == 200, body.decode()[-2000:]
    assert {k: json.loads(body)[k] for k in ("has_gpu", "ngpus")} == {"has_gpu": False, "ngpus": 0}
    status, page = lab.get(8888, "/lab", TOKEN)
    assert status == 200 and b"jupyterlab-nvdashboard" in page, "its lab extension is listed"
    logs = lab.logs()
    assert "Registered jupyterlab_nvdashboard server extension" in logs
    assert "Traceback" not in logs, logs[-3000:]
