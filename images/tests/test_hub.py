import pytest
from containers import built, docker_run, python_json

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


# JupyterHub's own start (init_db: tables, alembic stamp), our stores, then a real downgrade by
# one revision and `jupyterhub upgrade-db`, with hubconfig.migrations judging each state.
ON_POSTGRESQL = """
import json, subprocess, sys
from pathlib import Path
import alembic.command, alembic.config, jupyterhub
from jupyterhub.app import JupyterHub
from jupyterhub.dbutil import _temp_alembic_ini
from hubconfig import migrations
from multilogin.identities import Identity, IdentityStore
from multilogin.nonces import NonceClaim, NonceStore
url = sys.argv[1]
report = {"driver": __import__("psycopg").__version__}
hub = JupyterHub(db_url=url)
hub.init_db()
report["started"] = migrations.problems(url)
nonces, links = NonceStore(), IdentityStore()
report["nonce"] = [nonces.claim(hub.db, NonceClaim("lti13:x", "n-1", 60)) for _ in range(2)]
person = Identity("keycloak", "https://login.example.edu/realms/campus", "", "sub-1")
report["link"] = [links.link(hub.db, person, name, "keycloak") for name in ("stu", "other")]
report["linked_to"] = links.link_of(hub.db, person).username
report["used"] = migrations.problems(url)
hub.db.close()
head = migrations.alembic_head()
with _temp_alembic_ini(url) as ini:
    config = alembic.config.Config(ini)
    alembic.command.downgrade(config, "-1")
report["behind"] = migrations.problems(url)
upgrade = ["jupyterhub", "upgrade-db", f"--JupyterHub.db_url={url}"]
subprocess.run(upgrade, check=True, capture_output=True)
report["upgraded"] = migrations.problems(url)
print(json.dumps(report))
"""


@pytest.fixture
def postgresql(network: str, start) -> str:
    """A PostgreSQL of this project's image on the test's network: the hub image's URL of it."""
    database = start(
        built("postgresql"),
        env={"POSTGRES_USER": "jupyterhub", "POSTGRES_PASSWORD": "hub-db-secret"},
        network=network,
        alias="postgresql",
    )
    database.wait_for_exec("pg_isready", "--quiet", "--host=127.0.0.1", timeout=60)
    return "postgresql+psycopg://jupyterhub:hub-db-secret@postgresql:5432/jupyterhub"


def test_hub_creates_and_upgrades_its_database_on_postgresql(
    image: str, network: str, postgresql: str
) -> None:
    report = python_json(image, ON_POSTGRESQL, postgresql, network=network)
    assert report["driver"].startswith("3.")
    # multilogin's tables come with their first use.
    assert report["started"] == [
        "multilogin's table multilogin_identities is missing",
        "multilogin's table multilogin_used_nonces is missing",
    ]
    assert report["nonce"] == [True, False]
    assert report["link"] == [True, False]
    assert report["linked_to"] == "stu"
    assert report["used"] == []
    # One revision down: the newest migration's column is gone, and the check names both.
    version, column = report["behind"]
    assert version.startswith("JupyterHub's alembic version is ")
    assert column.startswith("JupyterHub's table ") and " lacks the columns " in column
    assert report["upgraded"] == []


# A hub database in use backed up with the image's pg_dump, lost, and restored with its pg_restore.
BACKUP_ON_POSTGRESQL = """
import io, json, shutil, subprocess, sys
from jupyterhub.app import JupyterHub
from sqlalchemy import MetaData, create_engine
from hubconfig import backup, migrations
from multilogin.nonces import NonceClaim, NonceStore
url = sys.argv[1]
pg_dump = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True)
report = {"pg_dump": pg_dump.stdout.split()[2]}
hub = JupyterHub(db_url=url)
hub.init_db()
NonceStore().claim(hub.db, NonceClaim("lti13:x", "n-1", 3600))
hub.db.close()
archive = io.BytesIO()
backup.create(url, archive)
engine = create_engine(url)
metadata = MetaData()
metadata.reflect(engine)
metadata.drop_all(engine)
report["emptied"] = migrations.problems(url)
backup.restore(url, io.BytesIO(archive.getvalue()))
report["restored"] = migrations.problems(url)
hub = JupyterHub(db_url=url)
hub.init_db()
report["nonce_again"] = NonceStore().claim(hub.db, NonceClaim("lti13:x", "n-1", 3600))
print(json.dumps(report))
"""


def test_hub_backs_up_and_restores_its_database_on_postgresql(
    image: str, network: str, postgresql: str
) -> None:
    report = python_json(image, BACKUP_ON_POSTGRESQL, postgresql, network=network)
    server = docker_run(built("postgresql"), "--version", entrypoint="postgres").split()[2]
    assert report["pg_dump"].split(".")[0] == server.split(".")[0]
    assert report["emptied"] == [
        "no alembic_version table: JupyterHub has not started on this database"
    ]
    assert report["restored"] == []
    # The nonce used before the backup is still used: our table's row came back.
    assert report["nonce_again"] is False
