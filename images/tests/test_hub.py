import pytest
from containers import docker_run, python_json

pytestmark = pytest.mark.image("hub")


def test_hub_imports_this_repos_packages_and_its_plugins(image: str) -> None:
    found = python_json(
        image,
        "import json, multilogin, hubconfig, kubespawner, jupyterhub_idle_culler,"
        " oauthenticator, ltiauthenticator;"
        " print(json.dumps({m.__name__: m.__file__ for m in (multilogin, hubconfig)}))",
    )
    assert all("/opt/venv/lib/" in path for path in found.values()), found


def test_jupyterhub_runs_as_uid_1000(image: str) -> None:
    assert docker_run(image, "jupyterhub", "--version").strip().startswith("6.")
    assert docker_run(image, "id", "-u").strip() == "1000"
