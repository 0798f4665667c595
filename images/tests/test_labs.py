"""Lab images: docker-stacks conventions, jupyterhub-singleuser, and their libraries."""

import pytest
from containers import docker_run, python_json

LABS = ["lab-base", "lab-nlp", "lab-deeplearning"]
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


@pytest.mark.image("lab-deeplearning")
def test_pytorch_falls_back_to_cpu_without_a_gpu(image: str) -> None:
    found = python_json(
        image,
        "import json, torch, transformers, datasets;"
        " x = torch.ones(2, 2); print(json.dumps({'cuda': torch.cuda.is_available(),"
        " 'sum': float((x @ x).sum()), 'cuda_build': torch.version.cuda}))",
    )
    assert found["sum"] == 8.0
    assert found["cuda_build"], "PyTorch from PyPI should be the CUDA build"
