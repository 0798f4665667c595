"""Username normalisation and the declarative entitlement rules, without a hub."""

from __future__ import annotations

import pytest
from multilogin_harness import ROLE_INSTRUCTOR

from multilogin.authenticator import DEFAULT_ENTITLEMENT_RULES, MultiLoginAuthenticator
from multilogin.entitlements import (
    KEYCLOAK,
    LTI11,
    LTI13,
    LoginFacts,
    entitlements_for,
    groups_from_grants,
    merge_grants,
    role_short_name,
    split_lti11_roles,
    validate_rules,
)
from multilogin.usernames import first_present, lookup_claim, normalize_username

COURSE = "course-{context_id}"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("student", "student"),
        ("  Student ", "student"),
        ("\uff33\uff34\uff35\uff24\uff25\uff2e\uff34", "student"),  # full-width letters
        ("\ufb01ona", "fiona"),  # the fi ligature
        ("Jürgen", "jürgen"),
    ],
)
def test_normalize_username(raw: str, normalised: str):
    assert normalize_username(raw) == normalised


def test_normalisation_is_idempotent():
    assert normalize_username(normalize_username("\uff21\uff24\uff21 ")) == "ada"


def test_claim_paths_reach_inside_object_claims():
    token = {"https://purl.imsglobal.org/spec/lti/claim/ext": {"user_username": "ada"}}

    assert lookup_claim(token, "https://purl.imsglobal.org/spec/lti/claim/ext#user_username") == (
        "ada"
    )
    assert lookup_claim(token, "missing#key") is None
    assert first_present({"a": " ", "b": "x"}, ["a", "b"]) == ("b", "x")


@pytest.mark.parametrize(
    ("role", "short"),
    [
        (ROLE_INSTRUCTOR, "Instructor"),
        ("urn:lti:role:ims/lis/TeachingAssistant", "TeachingAssistant"),
        ("Learner", "Learner"),
    ],
)
def test_role_short_names(role: str, short: str):
    assert role_short_name(role) == short


def test_lti11_roles_are_comma_separated():
    assert split_lti11_roles("Instructor, urn:lti:role:ims/lis/Learner,") == (
        "Instructor",
        "urn:lti:role:ims/lis/Learner",
    )


def test_default_rules_for_each_source():
    keycloak = LoginFacts(KEYCLOAK, keycloak_groups=frozenset({"admins", "gpu"}))
    lti = LoginFacts(LTI13, lti_roles=(ROLE_INSTRUCTOR,), context_id="Course 7/A")

    assert entitlements_for(keycloak, DEFAULT_ENTITLEMENT_RULES, COURSE) == ["admin", "gpu"]
    assert entitlements_for(lti, DEFAULT_ENTITLEMENT_RULES, COURSE) == [
        "course-course-7-a",
        "instructor",
    ]


def test_keycloak_groups_do_not_match_lti_launches():
    rules = [{"keycloak_groups": ["Instructor"], "grant": ["x"]}]

    assert entitlements_for(LoginFacts(LTI11, lti_roles=("Instructor",)), rules, None) == []


def test_course_restricted_rule_grants_only_in_that_course():
    rules = [{"lti_roles": ["Learner"], "lti_context_ids": ["ml"], "grant": ["gpu"]}]

    assert entitlements_for(
        LoginFacts(LTI11, lti_roles=("Learner",), context_id="ml"), rules, None
    ) == ["gpu"]
    assert (
        entitlements_for(LoginFacts(LTI11, lti_roles=("Learner",), context_id="art"), rules, None)
        == []
    )


def test_rules_granting_admin_from_lti_are_rejected():
    with pytest.raises(ValueError, match="admin may only come from a Keycloak group"):
        validate_rules([{"lti_roles": ["Administrator"], "grant": ["admin"]}], "admin")


@pytest.mark.parametrize(
    "rules",
    [
        [{"grant": ["x"]}],
        [{"keycloak_groups": ["a"], "lti_roles": ["b"], "grant": ["x"]}],
        [{"keycloak_groups": ["a"], "grant": ["Not A Group"]}],
        [{"keycloak_groups": ["a"], "lti_context_ids": ["c"], "grant": ["x"]}],
        [{"keycloak_groups": ["a"], "grant": ["x"], "typo": 1}],
    ],
)
def test_malformed_rules_are_rejected_with_their_location(rules: list):
    with pytest.raises(ValueError, match=r"entitlement_rules at 0"):
        validate_rules(rules, "admin")


def test_keycloak_share_is_replaced_and_lti_share_accumulates():
    grants = merge_grants(None, KEYCLOAK, ["admin", "gpu"])
    grants = merge_grants(grants, LTI11, ["course-1"])
    grants = merge_grants(grants, LTI13, ["course-2", "instructor"])
    grants = merge_grants(grants, KEYCLOAK, ["gpu"])

    assert groups_from_grants(grants, "admin") == ["course-1", "course-2", "gpu", "instructor"]


def test_admin_in_an_lti_share_never_counts():
    assert groups_from_grants({"lti": ["admin", "course-1"]}, "admin") == ["course-1"]


def test_keycloak_switched_on_without_configuration_stops_the_hub():
    with pytest.raises(ValueError, match=r"KeycloakLogin lacks authorize_url.*client_id"):
        MultiLoginAuthenticator()


def test_sources_can_be_switched_off():
    authenticator = MultiLoginAuthenticator(enable_keycloak=False, enable_lti11=False)

    routes = [route for route, _ in authenticator.get_handlers(None)]
    assert routes == ["/lti/launch", "/lti13/oauth_login", "/lti13/oauth_callback", "/lti13/config"]
    assert "multilogin-keycloak" not in authenticator.get_custom_html("/hub/")
