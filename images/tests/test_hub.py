import pytest
from containers import docker_run, python_json

pytestmark = pytest.mark.image("hub")


# Every module of this repo's packages, so that a dependency missing from pyproject.toml shows.
IMPORT_ALL = """
import importlib, json, pkgutil
import kubespawner, jupyterhub_idle_culler, oauthenticator, ltiauthenticator
found = {}
for package in ("multilogin", "hubconfig"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
    found[package] = module.__file__
print(json.dumps(found))
"""


def test_hub_imports_all_of_this_repos_packages_and_its_plugins(image: str) -> None:
    found = python_json(image, IMPORT_ALL)
    assert set(found) == {"multilogin", "hubconfig"}
    assert all("/opt/venv/lib/" in path for path in found.values()), found


def test_jupyterhub_runs_as_uid_1000(image: str) -> None:
    assert docker_run(image, "jupyterhub", "--version").strip().startswith("6.")
    assert docker_run(image, "id", "-u").strip() == "1000"
