"""The whole dev environment in one command: cluster, dev services and the hub, on localhost.

`up` runs, each as a step with its duration: prerequisites and images (built or reused), the
kind cluster with fake GPUs (`devenv.cluster.up`), `kind load` of the images the cluster runs,
Keycloak and the mock Moodle in the cluster (`devenv/services/manifests/`), the chart with the dev
values and the image lock, then waits until the hub, Keycloak and the mock Moodle answer on
localhost and prints their URLs, the dev accounts and how to tear down. On a running environment
every step only checks, and Kubernetes restarts only what changed.

Split horizon: the browser uses `http://localhost:<port>` (devenv/kind/ports.yaml: NodePorts
that kind maps to the host), the hub uses the Services' names for server-to-server calls
(Keycloak's token and userinfo, the mock Moodle's keys). Keycloak's KC_HOSTNAME is the localhost
URL, so its issuer and login pages are the same whichever way it is reached.

CLI: `python -m devenv.dev_env up|status|down` (the project's venv). Logs of each step:
`~/.cache/jupyterhub-k8s/logs/dev/`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from dev_keycloak.server import REALM, REALM_FILE
from devenv import cluster, cluster_config, node_image
from tools import binaries, gobuild
from tools.bootstrap import dockerd, prerequisites
from tools.bootstrap.paths import REPO_ROOT, cache_dir, logs_dir
from tools.bootstrap.progress import say, step

NAMESPACE = "jupyterhub"
RELEASE = "jupyterhub-k8s"
# The pods KubeSpawner made: user servers (a label of hubconfig.config.lab_labels).
USER_SERVER_SELECTOR = "app.kubernetes.io/managed-by=kubespawner"
CHART = REPO_ROOT / "helm" / "jupyterhub-k8s"
DEV_VALUES = REPO_ROOT / "helm" / "values-dev.yaml"
SERVICES_DIR = Path(__file__).resolve().parent / "services"
SERVICES_VALUES = SERVICES_DIR / "values-dev-services.yaml"
SERVICE_MANIFESTS = SERVICES_DIR / "manifests"
MOCK_MOODLE_EXTRA = SERVICES_DIR / "mock-moodle-extra.yaml"
# Images the cluster runs besides those devenv.cluster loads (entries of images/images.toml).
CLUSTER_IMAGES = (
    "hub",
    "configurable-http-proxy",
    "lab-base",
    "lab-nlp",
    "keycloak",
    "mock-moodle",
)
# Where the chart takes each image; lab images other than lab-base go under singleuser.images.
CHART_IMAGE_PATHS = {
    "hub": ("hub", "image"),
    "configurable-http-proxy": ("proxy", "chp", "image"),
    "lab-base": ("singleuser", "image"),
}
HUB_SERVICE_PORT = "hub"  # entries of devenv/kind/ports.yaml
KEYCLOAK_PORT = "keycloak"
MOCK_MOODLE_PORT = "mock-moodle"
MOCK_MOODLE_SERVICE_URL = "http://mock-moodle:8100"
CONFIG_HASH_ANNOTATION = "jupyterhub-k8s.io/config-hash"
ROLLOUT_WAIT_S = 420
ANSWER_WAIT_S = 180
LOG_TAIL_LINES = 25


class DevEnvError(RuntimeError):
    """A step of the dev environment failed; the message says what and where the logs are."""


def log_dir() -> Path:
    path = logs_dir() / "dev"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run_logged(
    command: list[str | Path],
    *,
    log: Path,
    what: str,
    stdin: str | None = None,
    timeout: float = 600,
) -> str:
    """Run a command, appending its output to `log`; on failure say what failed, with the tail."""
    with log.open("a") as handle:
        handle.write(f"$ {' '.join(str(part) for part in command)}\n")
    try:
        result = subprocess.run(
            [str(part) for part in command],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        raise DevEnvError(f"{what}: no answer after {timeout:.0f} s (log {log})") from error
    with log.open("a") as handle:
        handle.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise DevEnvError(f"{what} failed (log {log}):\n{log_tail(log)}")
    return result.stdout


def kubectl(
    *args: str, log: Path, what: str, stdin: str | None = None, timeout: float = 120
) -> str:
    command = [binaries.ensure("kubectl"), "--context", cluster_config.kube_context(), *args]
    return run_logged(command, log=log, what=what, stdin=stdin, timeout=timeout)


# --- What the environment is made of ------------------------------------------------------------


def public_urls() -> dict[str, str]:
    """The URL of each service as a browser on the host reaches it, by ports.yaml entry."""
    return {name: f"http://localhost:{port}" for name, port in cluster_config.host_ports().items()}


def subdomain_host() -> str:
    """The hub's JupyterHub.subdomain_host: each user's server on its own origin,
    http://<user>.localhost:<hub port>/user/<user>/, never the hub's. Chromium resolves every
    *.localhost name to the loopback (RFC 6761), so no hosts file or DNS is needed."""
    return public_urls()[HUB_SERVICE_PORT]


def user_server_pattern() -> str:
    """Where a user's server is, for people reading the summary."""
    scheme, host = subdomain_host().split("://")
    return f"{scheme}://<user>.{host}/user/<user>/"


def keycloak_issuer() -> str:
    return f"{public_urls()[KEYCLOAK_PORT]}/realms/{REALM}"


def realm_for_cluster() -> dict[str, Any]:
    """The campus realm, with the in-cluster hub's callback among its clients' redirect URIs."""
    realm = json.loads(REALM_FILE.read_text())
    hub_pattern = f"{public_urls()[HUB_SERVICE_PORT]}/*"
    for client in realm["clients"]:
        if hub_pattern not in client.get("redirectUris", []):
            client.setdefault("redirectUris", []).append(hub_pattern)
    return realm


def dev_accounts() -> list[tuple[str, str, list[str]]]:
    """(username, password, groups) of each user of the realm file."""
    realm = json.loads(REALM_FILE.read_text())
    return [
        (
            user["username"],
            next(c["value"] for c in user["credentials"] if c["type"] == "password"),
            [group.lstrip("/") for group in user.get("groups", [])],
        )
        for user in realm["users"]
    ]


def mock_moodle_config() -> dict[str, Any]:
    """The mock Moodle's example configuration, pointed at the in-cluster hub, named localhost,
    with the courses and users of mock-moodle-extra.yaml added."""
    from mock_moodle.config import ConfigError, for_hub, validate

    urls = public_urls()
    config = for_hub(urls[HUB_SERVICE_PORT] + "/")
    for section, entries in cluster_config.load_yaml(MOCK_MOODLE_EXTRA).items():
        config[section] += entries
    config.setdefault("platform", {})["url"] = urls[MOCK_MOODLE_PORT]
    try:
        validate(config)
    except ConfigError as error:
        raise DevEnvError(f"{MOCK_MOODLE_EXTRA} or the example configuration: {error}") from error
    return config


def lti13_platform(config: dict[str, Any]) -> dict[str, Any]:
    """The hub's LTI13Login.platforms entry for the mock Moodle of `config`, with the trust the
    dev values give its LTI 1.1 consumer key (one Moodle, one trust)."""
    issuer = config["lti13"].get("issuer") or config["platform"]["url"]
    lti11 = dev_values()["hub"]["config"]["LTI11Login"]
    return {
        "issuer": issuer,
        "client_ids": [config["lti13"]["client_id"]],
        "deployment_ids": [config["lti13"]["deployment_id"]],
        "authorize_url": f"{config['platform']['url']}/mod/lti/auth.php",
        "jwks_url": f"{MOCK_MOODLE_SERVICE_URL}/mod/lti/certs.php",
        **lti11["consumer_trust"][config["lti11"]["consumer_key"]],
    }


def image_values(locked: dict[str, Any], lab_keys: Collection[str]) -> dict[str, Any]:
    """Chart values naming each locked image the chart runs (`tools.images.lock.read()`).

    `lab_keys` are the keys of `singleuser.images` that the values use; other lab images in the
    lock stay out. The chart's tests use this too, so the dev environment and they agree.
    """
    values: dict[str, Any] = {}
    for name, entry in locked.items():
        path = CHART_IMAGE_PATHS.get(name)
        if path is None and name in lab_keys:
            path = ("singleuser", "images", name)
        if path is None:
            continue
        node = values
        for key in path:
            node = node.setdefault(key, {})
        node.update(entry.chart_image())
    return values


@cache
def dev_values() -> dict[str, Any]:
    """helm/values-dev.yaml, read once."""
    import yaml

    return yaml.safe_load(DEV_VALUES.read_text())


def dev_lab_keys() -> set[str]:
    """The lab images (`singleuser.images` keys) that the dev values use."""
    return set(dev_values()["singleuser"]["images"])


def generated_values(locked: dict[str, Any]) -> dict[str, Any]:
    """Values that depend on ports.yaml and the image lock: the third values file."""
    values = image_values(locked, dev_lab_keys())
    hub_config = values.setdefault("hub", {}).setdefault("config", {})
    hub_config["JupyterHub"] = {
        "public_url": public_urls()[HUB_SERVICE_PORT] + "/",
        "subdomain_host": subdomain_host(),
    }
    hub_config["LTI13Login"] = {"platforms": [lti13_platform(mock_moodle_config())]}
    return values


def locked_images() -> dict[str, Any]:
    from tools.images import lock

    locked = lock.read()
    missing = [name for name in CLUSTER_IMAGES if name not in locked]
    if missing:
        raise DevEnvError(
            f"images/images.lock.json has no entry for {', '.join(missing)}; "
            f"run `python -m tools.images build {' '.join(missing)}`"
        )
    return locked


# --- Steps --------------------------------------------------------------------------------------


def build_images() -> dict[str, Any]:
    from tools.images import build, spec

    try:
        build.build(spec.load(), list(CLUSTER_IMAGES), low_priority=True)
    except (build.BuildError, spec.SpecError) as error:
        raise DevEnvError(str(error)) from error
    return locked_images()


def check_port_mappings() -> None:
    """A cluster made before a port was added to ports.yaml lacks its host mapping."""
    node = f"{cluster_config.cluster_name()}-control-plane"
    result = subprocess.run(["docker", "port", node], capture_output=True, text=True)
    mapped = {line.split("/", 1)[0] for line in result.stdout.splitlines()}
    missing = [
        f"{name} ({port})"
        for name, port in cluster_config.host_ports().items()
        if str(port) not in mapped
    ]
    if missing:
        raise DevEnvError(
            f"the running cluster maps no host port for {', '.join(missing)} "
            "(devenv/kind/ports.yaml changed after it was created); recreate it: "
            "`python -m devenv.cluster down`, then run this again"
        )


def load_images(locked: dict[str, Any], log: Path) -> None:
    kind = binaries.ensure("kind")
    for name in CLUSTER_IMAGES:
        reference = locked[name].reference
        output = run_logged(
            [kind, "load", "docker-image", "--name", cluster_config.cluster_name(), reference],
            log=log,
            what=f"kind load {reference}",
        )
        # kind says so on stderr, which went to the log.
        already = "already present" in output + log_tail(log, 3)
        say(f"    {reference}: {'already on every node' if already else 'loaded'}")


def config_map(name: str, files: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/part-of": "jupyterhub-k8s-dev",
                "app.kubernetes.io/managed-by": "devenv",
            },
        },
        "data": files,
    }


def service_manifests(locked: dict[str, Any]) -> list[dict[str, Any]]:
    """devenv/services/manifests/ with image tags, NodePorts and ConfigMaps of this environment.

    Each Deployment's pod template carries a hash of the ConfigMaps, so a changed realm or
    mock configuration restarts its pod and nothing else does.
    """
    import yaml

    realm = json.dumps(realm_for_cluster(), indent=2)
    maps = [
        config_map("dev-urls", public_urls()),
        config_map("keycloak-realm", {"campus-realm.json": realm}),
        config_map("mock-moodle-config", {"config.yaml": yaml.safe_dump(mock_moodle_config())}),
    ]
    config_hash = hashlib.sha256(
        json.dumps([m["data"] for m in maps], sort_keys=True).encode()
    ).hexdigest()[:16]
    by_repository = {entry.repository: entry.reference for entry in locked.values()}
    ports = cluster_config.host_ports()
    documents = list(maps)
    for path in sorted(SERVICE_MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            name = document["metadata"]["labels"]["app.kubernetes.io/name"]
            if document["kind"] == "Service" and name in ports:
                document["spec"]["ports"][0]["nodePort"] = ports[name]
            if document["kind"] == "Deployment":
                template = document["spec"]["template"]
                template["metadata"].setdefault("annotations", {})[CONFIG_HASH_ANNOTATION] = (
                    config_hash
                )
                for container in template["spec"]["containers"]:
                    container["image"] = by_repository[container["image"]]
            documents.append(document)
    return documents


def apply_services(locked: dict[str, Any], log: Path) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    documents = {"apiVersion": "v1", "kind": "List", "items": [namespace]}
    documents["items"] += [
        {**document, "metadata": {**document["metadata"], "namespace": NAMESPACE}}
        for document in service_manifests(locked)
    ]
    output = kubectl(
        "apply",
        "-f",
        "-",
        log=log,
        what="applying devenv/services/manifests",
        stdin=json.dumps(documents),
    )
    for line in output.splitlines():
        if not line.endswith("unchanged"):
            say(f"    {line}")


def install_chart(locked: dict[str, Any], log: Path) -> None:
    import yaml

    generated = cache_dir() / "dev" / "values-generated.yaml"
    generated.parent.mkdir(parents=True, exist_ok=True)
    generated.write_text(yaml.safe_dump(generated_values(locked), sort_keys=False))
    run_logged(
        [
            binaries.ensure("helm"), "upgrade", "--install", RELEASE, CHART,
            "--kube-context", cluster_config.kube_context(), "--namespace", NAMESPACE,
            "--values", DEV_VALUES, "--values", SERVICES_VALUES, "--values", generated,
        ],
        log=log,
        what=f"helm upgrade --install {RELEASE}",
        timeout=300,
    )  # fmt: skip
    say(f"    release {RELEASE} in namespace {NAMESPACE} (values: {generated})")


def wait_for_rollouts(log: Path) -> None:
    """Every Deployment of the namespace rolled out, with its pods Ready."""
    kubectl(
        "rollout", "status", "deployment", "--namespace", NAMESPACE,
        "--selector", "app.kubernetes.io/name", f"--timeout={ROLLOUT_WAIT_S}s",
        log=log, what="waiting for the Deployments to roll out", timeout=ROLLOUT_WAIT_S + 30,
    )  # fmt: skip


def answer_checks() -> dict[str, str]:
    """A URL per service that answers 200 once it works for a browser on the host."""
    urls = public_urls()
    return {
        "hub": f"{urls[HUB_SERVICE_PORT]}/hub/health",
        "keycloak": f"{keycloak_issuer()}/.well-known/openid-configuration",
        "mock-moodle": f"{urls[MOCK_MOODLE_PORT]}/healthz",
    }


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our localhost URLs
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_for_answers() -> None:
    pending = answer_checks()
    deadline = time.monotonic() + ANSWER_WAIT_S
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            if answers(url):
                say(f"    {name}: {url} answers")
                del pending[name]
        if pending:
            time.sleep(1)
    if pending:
        raise DevEnvError(
            f"no answer after {ANSWER_WAIT_S} s from {', '.join(pending.values())}; see "
            f"`python -m devenv.dev_env status` and `kubectl -n {NAMESPACE} get pods,events`"
        )
    check_issuer()


def check_issuer() -> None:
    """The issuer Keycloak announces must be the URL the browser uses, or logins fail."""
    with urllib.request.urlopen(answer_checks()["keycloak"], timeout=5) as response:  # noqa: S310
        issuer = json.load(response)["issuer"]
    if issuer != keycloak_issuer():
        raise DevEnvError(
            f"Keycloak announces the issuer {issuer}, not {keycloak_issuer()}: its KC_HOSTNAME "
            "(ConfigMap dev-urls) does not match devenv/kind/ports.yaml"
        )


def summary() -> str:
    urls = public_urls()
    accounts = "\n".join(
        f"    {name:<12} {password:<18} {', '.join(groups) or '(no group: refused)'}"
        for name, password, groups in dev_accounts()
    )
    return f"""
The dev environment is up.
  Hub:         {urls[HUB_SERVICE_PORT]}/
  Labs:        {user_server_pattern()}  (each user on their own origin)
  Keycloak:    {urls[KEYCLOAK_PORT]}/admin  (console: keycloak-admin / dev-keycloak-admin)
  Mock Moodle: {urls[MOCK_MOODLE_PORT]}/  (pick a course and a user, then launch)
  Accounts (Keycloak realm {REALM}; the same names in the mock Moodle):
{accounts}
  Status:      python -m devenv.dev_env status
  Tear down:   python -m devenv.dev_env down     (the hub and dev services; keeps the cluster)
               python -m devenv.cluster down     (the whole cluster)
  Logs:        {log_dir()}
"""


# --- Commands -----------------------------------------------------------------------------------


@contextmanager
def logged_step(title: str, log_name: str) -> Iterator[Path]:
    """A progress step whose commands log to `log_name`; a failure names the step and the log."""
    log = log_dir() / f"{log_name}.log"
    log.write_text("")
    try:
        with step(title):
            yield log
    except DevEnvError:
        raise
    except Exception as error:  # the other modules' own errors: keep their message, add the step
        raise DevEnvError(f"{title}: {error}\n(full logs: {logs_dir()})") from error


def up() -> None:
    with logged_step("prerequisites: docker", "prerequisites"):
        prerequisites.ensure(["docker"])
    with logged_step("images", "images"):
        locked = build_images()
    cluster.up()
    with logged_step("host ports", "ports"):
        check_port_mappings()
    with logged_step("load the hub, lab and dev service images", "kind-load") as log:
        load_images(locked, log)
    with logged_step("Keycloak and mock Moodle", "services") as log:
        apply_services(locked, log)
    with logged_step("chart", "chart") as log:
        install_chart(locked, log)
    with logged_step("rollouts", "rollouts") as log:
        wait_for_rollouts(log)
    with logged_step("answers on localhost", "answers"):
        wait_for_answers()
    print(summary(), flush=True)


def status() -> None:
    """What runs in the namespace and which URLs answer; DevEnvError when one does not."""
    log = log_dir() / "status.log"
    print(kubectl("get", "deployments,pods", "-n", NAMESPACE, "-o", "wide", log=log, what="status"))
    silent = [url for url in answer_checks().values() if not answers(url)]
    for url in answer_checks().values():
        print(f"{'answers' if url not in silent else 'NO ANSWER':<10} {url}")
    if silent:
        raise DevEnvError(
            f"{len(silent)} service(s) do not answer; run `python -m devenv.dev_env up`"
        )


def down() -> None:
    # User servers first: KubeSpawner's pods are not the chart's, and while one runs it holds the
    # course volume's claim, so the uninstall below would wait for that PV until it times out.
    with logged_step("stop user servers", "down") as log:
        kubectl(
            "delete", "pods", "-n", NAMESPACE, "-l", USER_SERVER_SELECTOR, "--ignore-not-found",
            "--wait", log=log, what="deleting the user servers' pods", timeout=300,
        )  # fmt: skip
    # Then uninstall: the chart owns cluster-scoped objects (the dev course volume's PV) that a
    # namespace deletion leaves Released, and a Released PV never binds the next install's claim.
    with logged_step(f"uninstall release {RELEASE}", "down") as log:
        run_logged(
            [
                binaries.ensure("helm"), "uninstall", RELEASE, "--ignore-not-found", "--wait",
                "--kube-context", cluster_config.kube_context(), "--namespace", NAMESPACE,
            ],
            log=log,
            what=f"helm uninstall {RELEASE}",
            timeout=300,
        )  # fmt: skip
    with logged_step(f"delete namespace {NAMESPACE}", "down") as log:
        kubectl(
            "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait",
            log=log, what=f"deleting namespace {NAMESPACE}", timeout=300,
        )  # fmt: skip


COMMANDS = {"up": up, "status": status, "down": down}
KNOWN_ERRORS = (
    DevEnvError,
    cluster.ClusterError,
    cluster_config.ClusterConfigError,
    node_image.NodeImageError,
    prerequisites.MissingPrerequisites,
    dockerd.DockerError,
    gobuild.GoBuildError,
)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print("usage: python -m devenv.dev_env up|status|down", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        COMMANDS[argv[0]]()
    except KNOWN_ERRORS as error:
        print(f"error: {error}\nfull logs: {logs_dir()}", file=sys.stderr)
        return 1
    say(f"dev {argv[0]}: done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
