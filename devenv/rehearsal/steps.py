"""The rehearsal's steps, in order, over one RehearsalEnvironment (as the dev environment's).

`up(version)`: the cluster and its registry; the release under test (`version`, made here
before, or one of the working tree made now) and the previous release (previous-release.toml);
an earlier rehearsal removed;
the nodes resolving the registry the charts name to the local one; the run's CA and the sites'
certificates, the hub's secrets; Keycloak, the mock Moodle and PostgreSQL over HTTPS; the
previous release installed from the registry by version; rollouts; answers over HTTPS.
`install_hub(env, version)` is the upgrade the upgrade story makes.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml

from devenv import charts, cluster, dev_env, hub_secret, tls
from devenv.dev_env import logged_step
from devenv.host_names import resolve_in_process
from devenv.rehearsal import releases
from devenv.rehearsal.environment import (
    HUB_RELEASE,
    KEYCLOAK_SERVICE_URL,
    SERVICES_RELEASE,
    RehearsalEnvironment,
)
from tools import local_registry
from tools.bootstrap.paths import REPO_ROOT, cache_dir
from tools.bootstrap.progress import say
from tools.images import build, lock, spec
from tools.kube import secret

CHART = f"oci://{local_registry.HOST_ENDPOINT}/charts/jupyterhub-k8s"
VALUES = Path(__file__).with_name("values.yaml")
# Where a tree keeps the dev values, relative to its root: the previous release's own come from
# its source tree, so a key that changed between the releases is given to each in its form.
DEV_VALUES = dev_env.DEV_VALUES.relative_to(REPO_ROOT)
SERVICES_VALUES = dev_env.SERVICES_VALUES.relative_to(REPO_ROOT)
HUB_SECRET = "jupyterhub-secrets"  # noqa: S105 - a Secret name: hub.existingSecret, the database password
CA_SECRET = "run-ca"  # noqa: S105 - a Secret name
TLS_SECRET = {"hub": "hub-tls", "login": "login-tls", "moodle": "moodle-tls"}
SERVICE_IMAGES = ("keycloak", "mock-moodle", "postgresql")
# Keys of the dev values that a release sets itself (its images) or the rehearsal sets otherwise
# (the database, the proxy's Service): everything else (profiles, courses, culling, trust) is the
# same as the dev environment's, so the same stories hold.
NOT_FROM_DEV_VALUES = (
    ("hub", "image"),
    ("hub", "db"),
    ("proxy", "chp"),
    ("proxy", "service"),
    ("singleuser", "image"),
    ("singleuser", "images"),
)


def state_file() -> Path:
    """The version the upgrade story upgrades to (written by `up`)."""
    path = cache_dir() / "rehearsal" / "target.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def target_version() -> str:
    return json.loads(state_file().read_text())["version"]


def trust_run_ca(env: RehearsalEnvironment) -> tls.RunCA:
    """This process trusts the run's CA (urllib, requests) and routes the sites' names."""
    ca = tls.ensure()
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(ca.ca_file)
    resolve_in_process(env.routes)
    return ca


def service_images() -> dict[str, lock.LockedImage]:
    build.build(spec.load(), list(SERVICE_IMAGES), low_priority=True)
    return cluster.push_images(SERVICE_IMAGES)


def apply_secrets(env: RehearsalEnvironment, ca: tls.RunCA) -> None:
    """The sites' certificates and the CA; the hub's tokens and the database password, made
    once and kept (devenv/hub_secret.py)."""
    env.cluster.kubectl.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace}}
    )
    documents = [secret(CA_SECRET, {"ca.crt": ca.ca_file.read_text()})]
    for site, name in TLS_SECRET.items():
        certificate = ca.site(site)
        documents.append(
            secret(
                name,
                {"tls.crt": certificate.cert_file.read_text(),
                 "tls.key": certificate.key_file.read_text()},
                "kubernetes.io/tls",
            )
        )  # fmt: skip
    env.kubectl.apply({"apiVersion": "v1", "kind": "List", "items": documents})
    hub_secret.ensure(env.kubectl, HUB_SECRET)


def services_values(env: RehearsalEnvironment, locked: dict[str, lock.LockedImage]) -> dict:
    values = dev_env.services_values(env, locked)
    values["tlsSecrets"] = {"keycloak": TLS_SECRET["login"], "mockMoodle": TLS_SECRET["moodle"]}
    values["postgresql"] = {
        "enabled": True,
        "image": locked["postgresql"].digest,
        "passwordSecret": {"name": HUB_SECRET, "key": "hub.db-password"},
    }
    return values


def dev_values_for_a_release(source: Path, lab_keys: set[str]) -> dict[str, Any]:
    """The dev values of the tree `source` without what a release or the rehearsal sets
    (NOT_FROM_DEV_VALUES), and without the profiles of lab images the release does not hold
    (`lab_keys`, its `singleuser.images`): the chart refuses a profile whose image is no key of
    the release's `singleuser.images`."""
    values = copy.deepcopy(yaml.safe_load((source / DEV_VALUES).read_text()))
    for *parents, key in NOT_FROM_DEV_VALUES:
        node = values
        for parent in parents:
            node = node.get(parent, {})
        node.pop(key, None)
    singleuser = values.get("singleuser", {})
    if "profileList" in singleuser:
        singleuser["profileList"] = [
            profile
            for profile in singleuser["profileList"]
            if profile.get("image") is None or profile["image"] in lab_keys
        ]
    return values


def generated_values(env: RehearsalEnvironment) -> dict[str, Any]:
    """The values that depend on the rehearsal's URLs and ports."""
    https_port, http_port = env.hub_node_ports
    return {
        "hub": {
            "config": {
                "JupyterHub": {"public_url": env.hub_url + "/", "subdomain_host": env.hub_url},
                "KeycloakLogin": {
                    "keycloak_url": KEYCLOAK_SERVICE_URL,
                    "authorize_base_url": env.keycloak_url,
                    "oauth_callback_url": f"{env.hub_url}/hub/oauth_callback",
                },
                "LTI13Login": {
                    "platforms": [dev_env.lti13_platform(env, dev_env.mock_moodle_config(env))]
                },
            }
        },
        "proxy": {"service": {"nodePort": http_port, "httpsNodePort": https_port}},
    }


def values_files(env: RehearsalEnvironment, source: Path, lab_keys: set[str]) -> list[str]:
    """Helm's `--values` for a release built from the tree `source` that holds the lab images
    `lab_keys`: that tree's dev values, as a campus upgrades with the values its release notes
    ask for, then the production shape (VALUES) and the rehearsal's URLs."""
    folder = cache_dir() / "rehearsal" / "values" / source.name
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, values in (
        ("values-from-dev.yaml", dev_values_for_a_release(source, lab_keys)),
        ("values-generated.yaml", generated_values(env)),
    ):
        path = folder / name
        path.write_text(yaml.safe_dump(values, sort_keys=False))
        files.append(path)
    dev_from, generated = files
    return [
        "--values", str(dev_from), "--values", str(source / SERVICES_VALUES),
        "--values", str(VALUES), "--values", str(generated),
    ]  # fmt: skip


def install_hub(
    env: RehearsalEnvironment, version: str, source: Path = REPO_ROOT, log: Path | None = None
) -> None:
    """Install (or upgrade to) the released chart `version` from the local registry, with the
    values of the tree it was released from."""
    values = values_files(env, source, releases.released_lab_keys(version))
    charts.helm(
        env.cluster, "upgrade", "--install", HUB_RELEASE, CHART, "--version", version,
        "--plain-http", *values, "--wait", "--timeout", "10m",
        namespace=env.namespace, log=log,
    )  # fmt: skip
    say(f"    release {HUB_RELEASE} {version} in namespace {env.namespace}")


def up(env: RehearsalEnvironment, version: str | None) -> None:
    cluster.up(env.cluster)
    with logged_step("the release under test", "rehearsal-release"):
        target = version or releases.release_working_tree()
        state_file().write_text(json.dumps({"version": target}))
    with logged_step("the previous release", "rehearsal-previous"):
        recorded = releases.recorded_previous()
        previous = releases.release_previous(recorded)
    # Every rehearsal starts from a fresh install of the previous release, as a campus upgrades
    # from what it runs: an earlier rehearsal's namespace (its database too) goes first.
    if env.cluster.kubectl("get", "namespace", env.namespace, "--ignore-not-found").strip():
        down(env)
    with logged_step("nodes resolve the release registry to the local one", "rehearsal-mirror"):
        local_registry.mirror(releases.PUBLISHED_AS)
    with logged_step("the run's CA, certificates and secrets", "rehearsal-secrets"):
        ca = trust_run_ca(env)
        apply_secrets(env, ca)
    with logged_step(
        "Keycloak, mock Moodle and PostgreSQL over HTTPS", "rehearsal-services"
    ) as log:
        locked = {**lock.read(), **service_images()}
        charts.install(
            env.cluster, SERVICES_RELEASE, dev_env.SERVICES_CHART, services_values(env, locked),
            namespace=env.namespace, log=log,
        )  # fmt: skip
    with logged_step(f"release {previous} from the registry", "rehearsal-install") as log:
        install_hub(env, previous, releases.source_tree(recorded.commit), log)
    with logged_step("rollouts", "rehearsal-rollouts") as log:
        dev_env.wait_for_rollouts(env, log)
    with logged_step("answers over HTTPS", "rehearsal-answers"):
        dev_env.wait_for_answers(env)
    say(f"    installed {previous}; the upgrade story upgrades it to {target}")


def status(env: RehearsalEnvironment) -> None:
    """What runs in the rehearsal's namespace and which sites answer over HTTPS."""
    trust_run_ca(env)
    dev_env.status(env)


def down(env: RehearsalEnvironment) -> None:
    dev_env.down(env)
