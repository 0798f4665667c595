"""helm lint and helm template of the chart with the dev and production values."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import recording_kube_api
import yaml
from chart_render import (
    CHART,
    DEV_VALUES,
    NAMESPACE,
    PRODUCTION_VALUES,
    RELEASE,
    find,
    render,
    render_error,
    run_helm,
    secret_text,
)
from jupyterhub.objects import Hub
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner
from traitlets.config import Config

from devenv import cluster_config
from hubconfig import configure, values
from hubconfig.config import Deployment, lab_labels
from hubconfig.spawner import ProfileSpawner
from hubconfig.storage import CourseFolders
from tools.images.chart_values import image_values
from tools.images.lock import LockedImage

FULLNAME = f"{RELEASE}-jupyterhub-k8s"
HUB = f"{FULLNAME}-hub"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("values_file", [None, DEV_VALUES, PRODUCTION_VALUES])
def test_helm_lint(values_file: Path | None) -> None:
    args = ["lint", "--strict", str(CHART)]
    if values_file:
        args += ["-f", str(values_file)]
    result = run_helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_chart_version_is_the_projects_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert chart["version"] == project["version"]
    assert "appVersion" not in chart, "the release sets appVersion (tools/release/chart.py)"


@pytest.mark.parametrize("values_file", [DEV_VALUES, PRODUCTION_VALUES])
def test_every_resource_carries_the_standard_labels(values_file: Path) -> None:
    for manifest in render(values_file):
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "jupyterhub-k8s"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert "app.kubernetes.io/component" in labels


def test_hub_deployment_restarts_on_config_change_and_never_runs_twice() -> None:
    manifests = render(DEV_VALUES)
    hub = find(manifests, "Deployment", HUB)
    assert hub["spec"]["replicas"] == 1
    assert hub["spec"]["strategy"] == {"type": "Recreate"}
    annotations = hub["spec"]["template"]["metadata"]["annotations"]
    changed = render(DEV_VALUES, sets=("cull.timeout=60",))
    changed_annotations = find(changed, "Deployment", HUB)["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["checksum/config"] != changed_annotations["checksum/config"]
    container = hub["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/hub/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/hub/health"


def test_hub_reads_values_that_match_the_schema() -> None:
    for values_file in (DEV_VALUES, PRODUCTION_VALUES):
        config = find(render(values_file), "Secret", f"{HUB}-config")
        mounted = yaml.safe_load(secret_text(config, "values.yaml"))
        assert values.describe_errors(mounted) == []
        assert "configure_from_environment" in secret_text(config, "jupyterhub_config.py")


def test_hub_environment_names_the_charts_services() -> None:
    hub = find(render(DEV_VALUES), "Deployment", HUB)
    env = {item["name"]: item for item in hub["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["JUPYTERHUB_K8S_HUB_SERVICE"]["value"] == HUB
    assert env["JUPYTERHUB_K8S_PROXY_API_SERVICE"]["value"] == f"{FULLNAME}-proxy-api"
    assert env["CONFIGPROXY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == HUB


def test_extra_env_and_volumes_reach_the_hub_as_in_z2jh(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        yaml.safe_dump({
            "hub": {
                "extraEnv": {
                    "SSL_CERT_FILE": "/etc/campus-ca/ca.crt",
                    "TOKEN": {"valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                },
                "extraVolumes": [{"name": "campus-ca", "secret": {"secretName": "campus-ca"}}],
                "extraVolumeMounts": [{"name": "campus-ca", "mountPath": "/etc/campus-ca"}],
            }
        })
    )  # fmt: skip
    pod = find(render(DEV_VALUES, extra), "Deployment", HUB)["spec"]["template"]["spec"]
    [hub] = pod["containers"]
    env = {item["name"]: item for item in hub["env"]}
    assert env["SSL_CERT_FILE"] == {"name": "SSL_CERT_FILE", "value": "/etc/campus-ca/ca.crt"}
    assert env["TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "s", "key": "k"}
    assert {"name": "campus-ca", "mountPath": "/etc/campus-ca"} in hub["volumeMounts"]
    assert {"name": "campus-ca", "secret": {"secretName": "campus-ca"}} in pod["volumes"]


def test_extra_env_names_must_be_variable_names(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"hub": {"extraEnv": {"BAD NAME\n": "x"}}}))
    assert "invalid propertyName 'BAD NAME" in render_error(DEV_VALUES, extra)


def test_generated_tokens_are_hex_and_distinct() -> None:
    secret = find(render(DEV_VALUES), "Secret", HUB)
    tokens = [
        secret_text(secret, key) for key in ("proxy.token", "hub.cookie-secret", "hub.crypt-key")
    ]
    assert len(set(tokens)) == 3
    for token in tokens:
        assert len(token) == 64
        int(token, 16)


def test_proxy_secret_token_from_values_is_used() -> None:
    token = "ab" * 32
    secret = find(render(DEV_VALUES, sets=(f"proxy.secretToken={token}",)), "Secret", HUB)
    assert secret_text(secret, "proxy.token") == token


def test_existing_secret_replaces_the_generated_one() -> None:
    manifests = render(PRODUCTION_VALUES)
    assert not [m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == HUB]
    hub = find(manifests, "Deployment", HUB)
    env = {item["name"]: item for item in hub["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name in ("CONFIGPROXY_AUTH_TOKEN", "JPY_COOKIE_SECRET", "JUPYTERHUB_CRYPT_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "jupyterhub-tokens"
    assert env["JUPYTERHUB_K8S_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["optional"] is True
    proxy = find(manifests, "Deployment", f"{FULLNAME}-proxy")
    proxy_env = proxy["spec"]["template"]["spec"]["containers"][0]["env"]
    assert proxy_env[0]["valueFrom"]["secretKeyRef"]["name"] == "jupyterhub-tokens"


def test_the_production_sign_in_secrets_come_from_a_secret_not_the_values() -> None:
    manifests = render(PRODUCTION_VALUES)
    hub = find(manifests, "Deployment", HUB)
    env = {item["name"]: item for item in hub["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name, key in (
        ("OAUTH_CLIENT_SECRET", "keycloak-client-secret"),
        ("MOODLE_LTI11_SECRET", "moodle-lti11-secret"),
    ):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "jupyterhub-login", "key": key}
    config = yaml.safe_load(secret_text(find(manifests, "Secret", f"{HUB}-config"), "values.yaml"))
    login = config["hub"]["config"]
    assert "client_secret" not in login["KeycloakLogin"]
    assert "consumers" not in login["LTI11Login"]
    assert login["LTI11Login"]["consumer_secret_env"] == {
        "moodle-example-key": "MOODLE_LTI11_SECRET"
    }


def granted(role: dict) -> set[tuple[str, str]]:
    """The (resource, verb) pairs a Role grants."""
    return {
        (resource, verb)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def hub_values(manifests: list[dict]) -> dict:
    """The chart values the hub reads, as the chart mounts them."""
    secret = find(manifests, "Secret", f"{HUB}-config")
    return values.validate(yaml.safe_load(secret_text(secret, "values.yaml")))


def hub_spawners(manifests: list[dict], api_url: str) -> tuple[ProfileSpawner, ProfileSpawner]:
    """The hub's spawners of user stu's default server and of a named one, configured from what
    the chart gives the hub (its values and environment), talking to the API at `api_url`."""
    chart_values = hub_values(manifests)
    container = find(manifests, "Deployment", HUB)["spec"]["template"]["spec"]["containers"][0]
    environ = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    environ["POD_NAMESPACE"] = NAMESPACE  # the fieldRef to the pod's namespace
    c = Config()
    configure(c, chart_values, Deployment.from_environ(environ))
    c.ProfileSpawner.k8s_api_host = api_url
    # The recording API's pods run no server: the start returns once the pod runs.
    c.ProfileSpawner.listen_poll_interval = 0

    async def no_auth_state() -> None:
        return None

    user = SimpleNamespace(
        name="stu", id=1, url="/user/stu/", groups=[], spawners={}, settings={"users": {}}
    )
    user.get_auth_state = no_auth_state
    for name in ("", "train"):
        orm_spawner = SimpleNamespace(name=name, server=None, user_options={}, state={})
        user.spawners[name] = ProfileSpawner(
            config=c, user=user, orm_spawner=orm_spawner, hub=Hub()
        )
    return user.spawners[""], user.spawners["train"]


async def start_and_stop(spawner: ProfileSpawner) -> None:
    await spawner.check_and_apply({})
    await spawner.start()
    assert spawner.pod_reflector.pods, "the pod did not start"
    await spawner.stop()


@pytest.mark.parametrize("storage", ["dynamic", "none"])
async def test_role_grants_what_kubespawner_asks_of_the_api_and_no_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage: str
) -> None:
    manifests = render(DEV_VALUES, sets=(f"singleuser.storage.type={storage}",))
    # Reflectors are shared by all spawners of a process; these watch the recording API only.
    monkeypatch.setattr(KubeSpawner, "reflectors", {})
    with recording_kube_api.serving() as (api_url, kube):
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "api", "cluster": {"server": api_url}}],
                    "users": [{"name": "hub", "user": {"token": "hub"}}],
                    "contexts": [{"name": "api", "context": {"cluster": "api", "user": "hub"}}],
                    "current-context": "api",
                }
            )
        )
        # Read at call time; the KUBECONFIG variable was read when the module was imported.
        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
        default, named = hub_spawners(manifests, api_url)
        try:
            await start_and_stop(default)
            # A named server mounts the same home claim. With the namespace's claim quota full,
            # creating it again is refused, and KubeSpawner reads the claim instead.
            kube.quota_reached = True
            await start_and_stop(named)
            # The culler may delete users (cull.users).
            await named.delete_forever()
            await default.delete_forever()
        finally:
            for reflector in KubeSpawner.reflectors.values():
                await reflector.stop()
    assert granted(find(manifests, "Role", HUB)) == kube.needed


def test_dev_exposes_a_node_port_and_keeps_sqlite_on_a_volume() -> None:
    manifests = render(DEV_VALUES)
    public = find(manifests, "Service", f"{FULLNAME}-proxy-public")
    assert public["spec"]["type"] == "NodePort"
    assert public["spec"]["ports"][0]["nodePort"] == 30080
    find(manifests, "PersistentVolumeClaim", f"{HUB}-db")
    course_folders = CourseFolders.from_values(
        hub_values(manifests)["singleuser"]["storage"]["shared"]
    )
    # In the folder every kind node mounts from the host: CPU and GPU labs see the same files.
    course_data = Path(course_folders.volume["hostPath"]["path"])
    assert course_data.is_relative_to(cluster_config.SHARED_DIR_IN_NODE)
    assert not [m for m in manifests if m["kind"] == "Ingress"]


def test_production_uses_ingress_tls_digests_and_nfs() -> None:
    manifests = render(PRODUCTION_VALUES)
    ingress = find(manifests, "Ingress", FULLNAME)
    assert ingress["spec"]["tls"][0]["hosts"][0] == "jupyter.example.edu"
    assert ingress["spec"]["rules"][0]["host"] == "jupyter.example.edu"
    assert find(manifests, "Service", f"{FULLNAME}-proxy-public")["spec"]["type"] == "ClusterIP"
    for name in (HUB, f"{FULLNAME}-proxy"):
        image = find(manifests, "Deployment", name)["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        assert "@sha256:" in image
    course_folders = CourseFolders.from_values(
        hub_values(manifests)["singleuser"]["storage"]["shared"]
    )
    # Each lab mounts the export itself: the chart creates no PersistentVolume.
    assert course_folders.volume == {
        "nfs": {"server": "nfs.example.edu", "path": "/export/jupyter-courses"}
    }
    assert not [m for m in manifests if m["metadata"]["name"] == f"{HUB}-db"]


def test_lab_network_policy_selects_the_pods_kubespawner_labels() -> None:
    policy = find(render(DEV_VALUES), "NetworkPolicy", f"{FULLNAME}-singleuser")
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= lab_labels(RELEASE).items()


def test_labs_reach_only_the_hub_dns_and_the_outside() -> None:
    policy = find(render(PRODUCTION_VALUES), "NetworkPolicy", f"{FULLNAME}-singleuser")
    ingress_from = policy["spec"]["ingress"][0]["from"]
    assert {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in ingress_from
    } == {
        "proxy",
        "hub",
    }
    egress = policy["spec"]["egress"]
    # Pods of this release (the cluster DNS pods are another namespace's).
    to_pods = [
        peer
        for rule in egress
        for peer in rule.get("to", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
    ]
    assert [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in to_pods
    ] == ["hub"]
    (internet,) = [
        peer["ipBlock"] for rule in egress for peer in rule.get("to", []) if "ipBlock" in peer
    ]
    assert internet["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
        internet["except"]
    )


def test_hub_reaches_the_kubernetes_api() -> None:
    policy = find(render(PRODUCTION_VALUES), "NetworkPolicy", HUB)
    api_rules = [
        rule
        for rule in policy["spec"]["egress"]
        if {"port": 6443, "protocol": "TCP"} in rule.get("ports", [])
    ]
    assert api_rules
    assert {"ipBlock": {"cidr": "192.0.2.10/32"}} in api_rules[0]["to"]


def test_network_policies_can_be_turned_off() -> None:
    manifests = render(DEV_VALUES, sets=("networkPolicy.enabled=false",))
    assert not [m for m in manifests if m["kind"] == "NetworkPolicy"]


def test_dev_ports_are_the_clusters() -> None:
    ports = cluster_config.current().host_ports
    dev = yaml.safe_load(DEV_VALUES.read_text())
    assert dev["proxy"]["service"]["nodePort"] == ports["hub"]
    keycloak = dev["hub"]["config"]["KeycloakLogin"]
    assert keycloak["oauth_callback_url"] == f"http://localhost:{ports['hub']}/hub/oauth_callback"
    assert keycloak["authorize_base_url"] == f"http://localhost:{ports['keycloak']}"


def test_image_lock_entries_become_chart_values() -> None:
    locked = {
        name: LockedImage(f"jupyterhub-k8s/{name}", f"tag-{name}", "hash", "id")
        for name in ("hub", "lab-base", "lab-nlp", "lab-deeplearning", "fake-gpu-plugin")
    }
    locked["configurable-http-proxy"] = LockedImage(
        "jupyterhub-k8s/configurable-http-proxy", "tag-chp", "hash", "id"
    )
    generated = image_values(locked, lab_keys={"lab-nlp"})
    assert set(generated["singleuser"]["images"]) == {"lab-nlp"}
    assert "fake-gpu-plugin" not in str(generated)
    manifests = render(DEV_VALUES, sets=_as_sets(generated))
    containers = {
        name: find(manifests, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        for name in (HUB, f"{FULLNAME}-proxy")
    }
    assert containers[HUB]["image"] == "jupyterhub-k8s/hub:tag-hub"
    assert containers[f"{FULLNAME}-proxy"]["image"] == (
        "jupyterhub-k8s/configurable-http-proxy:tag-chp"
    )
    mounted = yaml.safe_load(secret_text(find(manifests, "Secret", f"{HUB}-config"), "values.yaml"))
    assert mounted["singleuser"]["image"]["tag"] == "tag-lab-base"
    assert mounted["singleuser"]["images"]["lab-nlp"]["tag"] == "tag-lab-nlp"


def _as_sets(node: dict, prefix: str = "") -> tuple[str, ...]:
    """`--set` assignments for a nested mapping, as the dev environment may pass them."""
    sets: list[str] = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            sets.extend(_as_sets(value, f"{path}."))
        else:
            sets.append(f"{path}={value}")
    return tuple(sets)


def test_generated_tokens_do_not_restart_hub_or_proxy() -> None:
    def checksums(*sets: str) -> list[str]:
        manifests = render(DEV_VALUES, sets=sets)
        return [
            find(manifests, "Deployment", name)["spec"]["template"]["metadata"]["annotations"][
                "checksum/tokens"
            ]
            for name in (HUB, f"{FULLNAME}-proxy")
        ]

    # Each render generates new random tokens (no cluster to look them up in).
    first, again = checksums(), checksums()
    assert first == again
    assert first[0] == first[1]
    assert checksums(f"proxy.secretToken={'cd' * 32}") != first
