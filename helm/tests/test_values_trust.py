"""The chart's dev and production values give the authenticator the trust they say they give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import DEV_VALUES, PRODUCTION_VALUES
from traitlets.config import Config

from devenv import dev_env
from multilogin import MultiLoginAuthenticator
from multilogin.entitlements import LTI11, LTI13


def authenticator_for(hub_config: dict[str, Any]) -> MultiLoginAuthenticator:
    config = Config()
    for class_name, traits in hub_config.items():
        for trait, value in traits.items():
            config[class_name][trait] = value
    return MultiLoginAuthenticator(config=config)


def values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.fixture
def dev_authenticator() -> MultiLoginAuthenticator:
    hub_config = values(DEV_VALUES)["hub"]["config"]
    moodle = dev_env.mock_moodle_config(dev_env.current())
    hub_config["LTI13Login"] = {"platforms": [dev_env.lti13_platform(dev_env.current(), moodle)]}
    return authenticator_for(hub_config)


def test_the_mock_moodle_is_one_campus_moodle_over_both_lti_versions(
    dev_authenticator: MultiLoginAuthenticator,
):
    trust = dev_authenticator.platform_trust
    [lti11] = [t for (source, _), t in trust.items() if source == LTI11]
    [lti13] = [t for (source, _), t in trust.items() if source == LTI13]

    assert lti11.name == lti13.name == "moodle"
    for platform in (lti11, lti13):
        assert platform.may_claim("student")
        assert platform.may_claim("learner-01")
        assert not platform.may_claim("admin")
        assert not platform.may_claim("s.dent")
        assert platform.unlinked_identities == "ask-to-link"


def test_production_moodle_claims_directory_names_but_never_the_admins(
    monkeypatch: pytest.MonkeyPatch,
):
    # The LTI 1.1 secret the example's hub.extraEnv gives from a Secret.
    monkeypatch.setenv("MOODLE_LTI11_SECRET", "from-the-secret")
    authenticator = authenticator_for(values(PRODUCTION_VALUES)["hub"]["config"])
    trust = authenticator.platform_trust

    # One campus Moodle over both LTI versions.
    assert sorted(source for source, _ in trust) == [LTI11, LTI13]
    for platform in trust.values():
        assert platform.name == "moodle"
        assert platform.may_claim("student")
        assert not platform.may_claim("admin")
    assert "admin" in authenticator.admin_users
