"""The whole dev environment in one command: cluster, dev services and the hub, on localhost.

`up` runs, each as a step with its duration: prerequisites, then the images (built or reused)
alongside the kind cluster with fake GPUs (`devenv.cluster.up`), then a push of the images the
cluster runs to the local registry its nodes pull from (the chart values name them by the
pushed digests), Keycloak and the mock Moodle in the cluster (the chart
`devenv/services/chart/`), the hub's chart with the dev values and the image lock, then
waits until the hub, Keycloak and the mock Moodle answer on localhost and prints their URLs,
the dev accounts and how to tear down. On a running environment every step only checks, and
Kubernetes restarts only what changed.

Split horizon: the browser uses `http://localhost:<port>` (devenv/kind/ports.yaml: NodePorts
that kind maps to the host), the hub uses the Services' names for server-to-server calls
(Keycloak's token and userinfo, the mock Moodle's keys). Keycloak's KC_HOSTNAME is the localhost
URL, so its issuer and login pages are the same whichever way it is reached.

The steps run over one `DevEnvironment`, built once from the cluster's configuration (its name,
context, ports and the URLs made of them), as kind's create actions run over one context.

CLI: `PYTHONPATH=devservices python -m devenv.dev_env up|status|down`. Logs of each step:
`~/.cache/jupyterhub-k8s/logs/dev/`.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml

from dev_keycloak.server import REALM, DevUser, realm_for_hub, realm_users
from devenv import charts, cluster, cluster_config, commands
from devenv.cluster_config import ClusterConfig
from mock_moodle.config import ConfigError, for_hub, validate
from tools.bootstrap import dockerd, prerequisites
from tools.bootstrap.paths import REPO_ROOT, cache_dir, logs_dir
from tools.bootstrap.progress import lane, say, step
from tools.bootstrap.run import run
from tools.images import build, lock, spec
from tools.images.chart_values import image_values
from tools.kube import Kubectl

NAMESPACE = "jupyterhub"
RELEASE = "jupyterhub-k8s"
# The pods KubeSpawner made: user servers (a label of hubconfig.config.lab_labels).
USER_SERVER_SELECTOR = "app.kubernetes.io/managed-by=kubespawner"
CHART = REPO_ROOT / "helm" / "jupyterhub-k8s"
DEV_VALUES = REPO_ROOT / "helm" / "values-dev.yaml"
SERVICES_DIR = Path(__file__).resolve().parent / "services"
SERVICES_VALUES = SERVICES_DIR / "values-dev-services.yaml"
SERVICES_CHART = SERVICES_DIR / "chart"
SERVICES_RELEASE = "dev-services"
MOCK_MOODLE_EXTRA = SERVICES_DIR / "mock-moodle-extra.yaml"
# Images the cluster runs besides those devenv.cluster pushes (entries of images/images.toml).
# Every lab image of the dev values is here; lab-deeplearning (6.8 GB, not a default image) too:
# the push puts it in the local registry only, and a node pulls it when a lab of it starts there,
# which the Deep learning lab's GPU request keeps to the GPU node.
CLUSTER_IMAGES = (
    "hub",
    "configurable-http-proxy",
    "lab-base",
    "lab-nlp",
    "lab-deeplearning",
    "keycloak",
    "mock-moodle",
)
HUB_SERVICE_PORT = "hub"  # entries of devenv/kind/ports.yaml
KEYCLOAK_PORT = "keycloak"
MOCK_MOODLE_PORT = "mock-moodle"
MOCK_MOODLE_SERVICE_URL = "http://mock-moodle:8100"
ROLLOUT_WAIT_S = 420
ANSWER_WAIT_S = 180


class DevEnvError(RuntimeError):
    """A step of the dev environment failed; the message says what and where the logs are."""


@dataclass(frozen=True)
class DevEnvironment:
    """What the environment is: the cluster, its namespace, and the URLs a browser on the host
    uses (`http://localhost:<port>`, from ports.yaml). Built once (`current()`); every step and
    the e2e suite read it."""

    cluster: ClusterConfig
    namespace: str = NAMESPACE

    @cached_property
    def public_urls(self) -> Mapping[str, str]:
        """The URL of each service as a browser on the host reaches it, by ports.yaml entry."""
        return {name: f"http://localhost:{port}" for name, port in self.cluster.host_ports.items()}

    @property
    def hub_url(self) -> str:
        return self.public_urls[HUB_SERVICE_PORT]

    @property
    def keycloak_url(self) -> str:
        return self.public_urls[KEYCLOAK_PORT]

    @property
    def mock_moodle_url(self) -> str:
        return self.public_urls[MOCK_MOODLE_PORT]

    @property
    def subdomain_host(self) -> str:
        """The hub's JupyterHub.subdomain_host: each user's server on its own origin,
        http://<user>.localhost:<hub port>/user/<user>/, never the hub's. Chromium resolves
        every *.localhost name to the loopback (RFC 6761), so no hosts file or DNS is needed."""
        return self.hub_url

    @property
    def user_server_pattern(self) -> str:
        """Where a user's server is, for people reading the summary."""
        scheme, host = self.subdomain_host.split("://")
        return f"{scheme}://<user>.{host}/user/<user>/"

    @property
    def keycloak_issuer(self) -> str:
        return f"{self.keycloak_url}/realms/{REALM}"

    @property
    def releases(self) -> tuple[str, str]:
        """The Helm releases of the hub and of the services, in the namespace."""
        return RELEASE, SERVICES_RELEASE

    @property
    def mock_moodle_service_url(self) -> str:
        """The mock Moodle as the hub reaches it inside the cluster (its keys)."""
        return MOCK_MOODLE_SERVICE_URL

    @property
    def service_node_ports(self) -> dict[str, int]:
        """The NodePorts of Keycloak and the mock Moodle (the services chart's `nodePorts`)."""
        return {
            "keycloak": self.cluster.host_ports[KEYCLOAK_PORT],
            "mockMoodle": self.cluster.host_ports[MOCK_MOODLE_PORT],
        }

    @property
    def kubectl(self) -> Kubectl:
        """kubectl in the environment's namespace."""
        return self.cluster.kubectl.in_namespace(self.namespace)

    @cached_property
    def accounts(self) -> Mapping[str, DevUser]:
        """The users of the realm file, by name."""
        return realm_users()

    @property
    def answer_checks(self) -> dict[str, str]:
        """A URL per service that answers 200 once it works for a browser on the host."""
        return {
            "hub": f"{self.hub_url}/hub/health",
            "keycloak": f"{self.keycloak_issuer}/.well-known/openid-configuration",
            "mock-moodle": f"{self.mock_moodle_url}/healthz",
        }


@cache
def current() -> DevEnvironment:
    """The environment of the repo's cluster, built once per process."""
    return DevEnvironment(cluster_config.current())


def log_dir() -> Path:
    path = logs_dir() / "dev"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- What the environment is made of ------------------------------------------------------------


def realm_for_cluster(env: DevEnvironment) -> dict[str, Any]:
    """The campus realm, with the in-cluster hub's callback among its clients' redirect URIs."""
    return realm_for_hub(env.hub_url)


def mock_moodle_config(env: DevEnvironment) -> dict[str, Any]:
    """The mock Moodle's example configuration, pointed at the in-cluster hub, named localhost,
    with the courses, users and cohorts of mock-moodle-extra.yaml added."""
    config = for_hub(env.hub_url + "/")
    for section, entries in cluster_config.load_yaml(MOCK_MOODLE_EXTRA).items():
        config[section] = config.get(section, []) + entries
    config.setdefault("platform", {})["url"] = env.mock_moodle_url
    try:
        validate(config)
    except ConfigError as error:
        raise DevEnvError(f"{MOCK_MOODLE_EXTRA} or the example configuration: {error}") from error
    return config


def lti13_platform(env: DevEnvironment, config: dict[str, Any]) -> dict[str, Any]:
    """The hub's LTI13Login.platforms entry for the mock Moodle of `config`, with the trust the
    dev values give its LTI 1.1 consumer key (one Moodle, one trust)."""
    issuer = config["lti13"].get("issuer") or config["platform"]["url"]
    lti11 = dev_values()["hub"]["config"]["LTI11Login"]
    return {
        "issuer": issuer,
        "client_ids": [config["lti13"]["client_id"]],
        "deployment_ids": [config["lti13"]["deployment_id"]],
        "authorize_url": f"{config['platform']['url']}/mod/lti/auth.php",
        "jwks_url": f"{env.mock_moodle_service_url}/mod/lti/certs.php",
        **lti11["consumer_trust"][config["lti11"]["consumer_key"]],
    }


@cache
def dev_values() -> dict[str, Any]:
    """helm/values-dev.yaml, read once."""
    return yaml.safe_load(DEV_VALUES.read_text())


def dev_lab_keys() -> set[str]:
    """The lab images (`singleuser.images` keys) that the dev values use."""
    return set(dev_values()["singleuser"]["images"])


def generated_values(env: DevEnvironment, locked: Mapping[str, Any]) -> dict[str, Any]:
    """Values that depend on ports.yaml and the image lock: the third values file."""
    values = image_values(locked, dev_lab_keys())
    hub_config = values.setdefault("hub", {}).setdefault("config", {})
    hub_config["JupyterHub"] = {
        "public_url": env.hub_url + "/",
        "subdomain_host": env.subdomain_host,
    }
    hub_config["LTI13Login"] = {"platforms": [lti13_platform(env, mock_moodle_config(env))]}
    return values


def locked_images() -> dict[str, lock.LockedImage]:
    locked = lock.read()
    missing = [name for name in CLUSTER_IMAGES if name not in locked]
    if missing:
        raise DevEnvError(
            f"images/images.lock.json has no entry for {', '.join(missing)}; "
            f"run `python -m tools.images build {' '.join(missing)}`"
        )
    return locked


def services_values(env: DevEnvironment, locked: Mapping[str, Any]) -> dict[str, Any]:
    """The dev services chart's values (devenv/services/chart): the pushed images, the NodePorts
    of ports.yaml, the browser URLs, the realm with the hub's callback, the mock's configuration."""
    return {
        "images": {
            "keycloak": locked["keycloak"].digest,
            "mockMoodle": locked["mock-moodle"].digest,
        },
        "nodePorts": env.service_node_ports,
        "urls": dict(env.public_urls),
        "realm": json.dumps(realm_for_cluster(env), indent=2),
        "mockMoodleConfig": yaml.safe_dump(mock_moodle_config(env)),
    }


# --- Steps --------------------------------------------------------------------------------------


def build_images() -> dict[str, lock.LockedImage]:
    try:
        build.build(spec.load(), list(CLUSTER_IMAGES), low_priority=True)
    except (build.BuildError, spec.SpecError) as error:
        raise DevEnvError(str(error)) from error
    return locked_images()


def check_port_mappings(env: DevEnvironment) -> None:
    """A cluster made before a port was added to ports.yaml lacks its host mapping."""
    mapped_lines = run(["docker", "port", f"{env.cluster.name}-control-plane"]).splitlines()
    mapped = {line.split("/", 1)[0] for line in mapped_lines}
    missing = [
        f"{name} ({port})"
        for name, port in env.cluster.host_ports.items()
        if str(port) not in mapped
    ]
    if missing:
        raise DevEnvError(
            f"the running cluster maps no host port for {', '.join(missing)} "
            "(devenv/kind/ports.yaml changed after it was created); recreate it: "
            "`python -m devenv.cluster down`, then run this again"
        )


def install_services(env: DevEnvironment, locked: Mapping[str, Any], log: Path) -> None:
    charts.install(
        env.cluster, SERVICES_RELEASE, SERVICES_CHART, services_values(env, locked),
        namespace=env.namespace, log=log,
    )  # fmt: skip
    say(f"    release {SERVICES_RELEASE} in namespace {env.namespace}")


def create_course_folders(env: DevEnvironment) -> list[Path]:
    """The dev values' course folders, in the host folder every node shares, writable by labs.

    On a campus whoever runs the NFS server creates them (helm/README.md, "Storage"); otherwise
    the kubelet creates a missing subPath folder owned by root, which no instructor can write.
    Learners cannot write either way: their labs mount the folders read-only.
    """
    shared = dev_values()["singleuser"]["storage"]["shared"]
    in_nodes = Path(shared["hostPath"]).relative_to(cluster_config.SHARED_DIR_IN_NODE)
    folders = [env.cluster.shared_dir / in_nodes / course["folder"] for course in shared["courses"]]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)
    return folders


def install_hub(env: DevEnvironment, locked: Mapping[str, Any], log: Path) -> None:
    create_course_folders(env)
    generated = cache_dir() / "dev" / "values-generated.yaml"
    generated.parent.mkdir(parents=True, exist_ok=True)
    generated.write_text(yaml.safe_dump(generated_values(env, locked), sort_keys=False))
    charts.helm(
        env.cluster, "upgrade", "--install", RELEASE, CHART,
        "--values", DEV_VALUES, "--values", SERVICES_VALUES, "--values", generated,
        namespace=env.namespace, log=log,
    )  # fmt: skip
    say(f"    release {RELEASE} in namespace {env.namespace} (values: {generated})")


def wait_for_rollouts(env: DevEnvironment, log: Path) -> None:
    """Every Deployment of the namespace rolled out, with its pods Ready."""
    env.kubectl.logging_to(log).rollout_status(
        "deployment", ROLLOUT_WAIT_S, "--selector", "app.kubernetes.io/name"
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our localhost URLs
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_for_answers(env: DevEnvironment) -> None:
    pending = dict(env.answer_checks)
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
            f"`python -m devenv.dev_env status` and `kubectl -n {env.namespace} get pods,events`"
        )
    check_issuer(env)


def check_issuer(env: DevEnvironment) -> None:
    """The issuer Keycloak announces must be the URL the browser uses, or logins fail."""
    with urllib.request.urlopen(env.answer_checks["keycloak"], timeout=5) as response:  # noqa: S310
        issuer = json.load(response)["issuer"]
    if issuer != env.keycloak_issuer:
        raise DevEnvError(
            f"Keycloak announces the issuer {issuer}, not {env.keycloak_issuer}: its KC_HOSTNAME "
            "(ConfigMap dev-urls) does not match devenv/kind/ports.yaml"
        )


def summary(env: DevEnvironment) -> str:
    accounts = "\n".join(
        f"    {a.username:<12} {a.password:<18} {', '.join(a.groups) or '(no group: refused)'}"
        for a in env.accounts.values()
    )
    return f"""
The dev environment is up.
  Hub:         {env.hub_url}/
  Labs:        {env.user_server_pattern}  (each user on their own origin)
  Keycloak:    {env.keycloak_url}/admin  (console: keycloak-admin / dev-keycloak-admin)
  Mock Moodle: {env.mock_moodle_url}/  (pick a course and a user, then launch)
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


def images_lane() -> dict[str, lock.LockedImage]:
    with lane("images"), logged_step("images", "images"):
        return build_images()


def up(env: DevEnvironment) -> None:
    with logged_step("prerequisites: docker", "prerequisites"):
        prerequisites.ensure(["docker"])
        # Both need dockerd, and installing the capability filter restarts it, which would kill
        # an image build running in the other lane.
        dockerd.ensure_privileged_containers()
        dockerd.ensure_base_image()
    # The image builds (mostly downloads from the package registries and single-threaded
    # installs) and the cluster's (Go compiling Kubernetes for the node image on every core)
    # need nothing of each other before the push, so they run at the same time. A failure is
    # raised once both have ended (the cluster's when both failed; each lane's step log says
    # which failed).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="images") as pool:
        images = pool.submit(images_lane)
        cluster.up(env.cluster)
        locked = images.result()
    with logged_step("host ports", "ports"):
        check_port_mappings(env)
    with logged_step("push the hub, lab and dev service images to the local registry", "push"):
        locked = {**locked, **cluster.push_images(CLUSTER_IMAGES)}
    with logged_step("Keycloak and mock Moodle", "services") as log:
        install_services(env, locked, log)
    with logged_step("chart", "chart") as log:
        install_hub(env, locked, log)
    with logged_step("rollouts", "rollouts") as log:
        wait_for_rollouts(env, log)
    with logged_step("answers on localhost", "answers"):
        wait_for_answers(env)
    print(summary(env), flush=True)


def status(env: DevEnvironment) -> None:
    """What runs in the namespace and which URLs answer; DevEnvError when one does not."""
    print(env.kubectl("get", "deployments,pods", "-o", "wide"))
    silent = [url for url in env.answer_checks.values() if not answers(url)]
    for url in env.answer_checks.values():
        print(f"{'answers' if url not in silent else 'NO ANSWER':<10} {url}")
    if silent:
        raise DevEnvError(
            f"{len(silent)} service(s) do not answer; run `python -m devenv.dev_env up`"
        )


def down(env: DevEnvironment) -> None:
    # User servers first: KubeSpawner's pods are not the chart's, and while one runs it holds the
    # course volume's claim, so the uninstall below would wait for that PV until it times out.
    with logged_step("stop user servers", "down") as log:
        env.kubectl.logging_to(log)(
            "delete", "pods", "-l", USER_SERVER_SELECTOR, "--ignore-not-found", "--wait",
            timeout=300,
        )  # fmt: skip
    # Then uninstall: the chart owns cluster-scoped objects (the dev course volume's PV) that a
    # namespace deletion leaves Released, and a Released PV never binds the next install's claim.
    for release in env.releases:
        with logged_step(f"uninstall release {release}", "down") as log:
            charts.helm(
                env.cluster, "uninstall", release, "--ignore-not-found", "--wait",
                namespace=env.namespace, log=log,
            )  # fmt: skip
    with logged_step(f"delete namespace {env.namespace}", "down") as log:
        env.cluster.kubectl.logging_to(log)(
            "delete", "namespace", env.namespace, "--ignore-not-found", "--wait", timeout=300
        )


def main(argv: list[str]) -> int:
    env = current()
    verbs = {"up": lambda: up(env), "status": lambda: status(env), "down": lambda: down(env)}
    return commands.main("devenv.dev_env", verbs, argv, (DevEnvError, cluster.ClusterError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
