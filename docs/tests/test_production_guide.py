"""docs/production.md is true: its values blocks install, the keys and traits it names exist, and
its Keycloak client is the one the end-to-end tests sign in through.

The URLs it gives Moodle are checked against a running hub in
authenticators/tests/test_production_guide_urls.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import binaries

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = REPO_ROOT / "docs" / "production.md"
KEYCLOAK_CLIENT = REPO_ROOT / "docs" / "production" / "keycloak-client.json"
DEV_REALM = REPO_ROOT / "devservices" / "dev_keycloak" / "campus-realm.json"
CHART = REPO_ROOT / "helm" / "jupyterhub-k8s"
PRODUCTION_VALUES = REPO_ROOT / "helm" / "values-production.yaml"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())

YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
VALUES_MARK = "# values\n"
VALUES_KEY = re.compile(
    r"`((?:hub|proxy|singleuser|ingress|cull|networkPolicy)(?:\.[A-Za-z]\w*)+)`"
)
# Keys of the hub's Secret (hub.existingSecret) that read like values keys.
SECRET_KEYS = {"proxy.token"}
TRAIT = re.compile(
    r"`(KeycloakLogin|LTI11Login|LTI13Login|MultiLoginAuthenticator|JupyterHub)\.(\w+)`"
)


def guide_text() -> str:
    return GUIDE.read_text()


def yaml_blocks() -> list[str]:
    return YAML_BLOCK.findall(guide_text())


def values_blocks() -> list[str]:
    return [block for block in yaml_blocks() if block.startswith(VALUES_MARK)]


def helm_template(*values_files: Path) -> subprocess.CompletedProcess[str]:
    args = [str(binaries.ensure("helm")), "template", "jupyterhub", str(CHART)]
    for path in values_files:
        args += ["--values", str(path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def assert_installs_on_production(block_text: str, tmp_path: Path) -> None:
    """A guide's values block renders with the chart on top of the production example."""
    block = tmp_path / "block.yaml"
    block.write_text(block_text)
    result = helm_template(PRODUCTION_VALUES, block)
    assert result.returncode == 0, result.stderr


def test_the_guide_has_values_blocks_for_each_step_that_sets_values() -> None:
    assert len(values_blocks()) >= 6


@pytest.mark.parametrize("index", range(len(values_blocks())))
def test_each_values_block_installs_on_top_of_the_production_example(
    index: int, tmp_path: Path
) -> None:
    assert_installs_on_production(values_blocks()[index], tmp_path)


def test_the_values_blocks_install_together(tmp_path: Path) -> None:
    files = []
    for index, text in enumerate(values_blocks()):
        path = tmp_path / f"block-{index}.yaml"
        path.write_text(text)
        files.append(path)
    result = helm_template(PRODUCTION_VALUES, *files)
    assert result.returncode == 0, result.stderr


def test_the_entitlement_rules_of_the_values_blocks_are_valid() -> None:
    from multilogin import MultiLoginAuthenticator
    from multilogin.entitlements import validate_rules

    rule_sets = [
        config["MultiLoginAuthenticator"]["entitlement_rules"]
        for config in (yaml.safe_load(block)["hub"].get("config", {}) for block in values_blocks()
                       if "hub" in yaml.safe_load(block))
        if "entitlement_rules" in config.get("MultiLoginAuthenticator", {})
    ]  # fmt: skip
    assert rule_sets, "the storage step grants a course's staff group"
    admin_group = MultiLoginAuthenticator.admin_group.default_value
    for rules in rule_sets:
        assert validate_rules(rules, admin_group) == rules


def test_the_other_yaml_blocks_are_kubernetes_objects() -> None:
    objects = [yaml.safe_load(b) for b in yaml_blocks() if not b.startswith(VALUES_MARK)]
    assert objects, "the guide shows the cert-manager Certificate"
    for manifest in objects:
        assert {"apiVersion", "kind", "metadata", "spec"} <= set(manifest), manifest


def schema_node(path: list[str]) -> dict[str, Any] | None:
    """The schema of the value at `path`, or None when no value can be there; free-form maps
    (hub.config, extraEnv, ...) accept any key below them."""
    node: dict[str, Any] = SCHEMA
    for key in path:
        while "$ref" in node:
            node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        properties = node.get("properties", {})
        if key in properties:
            node = properties[key]
        elif node.get("type") == "object" and node.get("additionalProperties", True) is not False:
            return {}
        else:
            return None
    return node


@pytest.mark.parametrize("key", sorted(set(VALUES_KEY.findall(guide_text())) - SECRET_KEYS))
def test_every_values_key_the_guide_names_exists(key: str) -> None:
    assert schema_node(key.split(".")) is not None, f"{key} is not a key of the chart's values"


def test_a_key_the_chart_lacks_is_found_missing() -> None:
    assert schema_node(["singleuser", "storageClasss"]) is None
    assert schema_node(["hub", "config", "KeycloakLogin", "realm"]) == {}


@pytest.mark.parametrize(("class_name", "trait"), sorted(set(TRAIT.findall(guide_text()))))
def test_every_trait_the_guide_names_exists(class_name: str, trait: str) -> None:
    from jupyterhub.app import JupyterHub

    from multilogin import MultiLoginAuthenticator
    from multilogin.keycloak import KeycloakLogin
    from multilogin.lti11 import LTI11Login
    from multilogin.lti13 import LTI13Login

    classes = {
        cls.__name__: cls
        for cls in (JupyterHub, MultiLoginAuthenticator, KeycloakLogin, LTI11Login, LTI13Login)
    }
    assert classes[class_name].class_traits(config=True).get(trait), f"{class_name}.{trait}"


def dev_client() -> dict[str, Any]:
    realm = json.loads(DEV_REALM.read_text())
    return next(client for client in realm["clients"] if client["clientId"] == "jupyterhub")


def test_the_keycloak_client_maps_groups_as_the_dev_realm_the_e2e_tests_use() -> None:
    client = json.loads(KEYCLOAK_CLIENT.read_text())
    assert client["protocolMappers"] == dev_client()["protocolMappers"]
    (mapper,) = client["protocolMappers"]
    assert mapper["config"]["claim.name"] == "groups"
    assert mapper["config"]["userinfo.token.claim"] == "true"


def test_the_keycloak_client_is_confidential_with_the_hubs_callback_and_logout_return() -> None:
    client = json.loads(KEYCLOAK_CLIENT.read_text())
    assert client["publicClient"] is False and client["standardFlowEnabled"] is True
    assert client["clientAuthenticatorType"] == dev_client()["clientAuthenticatorType"]
    assert client["redirectUris"] == ["https://jupyter.example.edu/hub/oauth_callback"]
    assert client["attributes"]["post.logout.redirect.uris"] == "+"
    assert "https://jupyter.example.edu/hub/oauth_callback" in guide_text()


def test_the_guides_keycloak_values_match_the_client() -> None:
    (keycloak,) = [
        yaml.safe_load(block)["hub"]["config"]["KeycloakLogin"]
        for block in values_blocks()
        if "KeycloakLogin" in block
    ]
    client = json.loads(KEYCLOAK_CLIENT.read_text())
    assert keycloak["client_id"] == client["clientId"]
    assert keycloak["oauth_callback_url"] in client["redirectUris"]
