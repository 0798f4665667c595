"""Username normalisation and the declarative entitlement rules, without a hub."""

from __future__ import annotations

import re

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
    is_course_role,
    merge_grants,
    role_short_name,
    split_lti11_roles,
    unexpired,
    validate_rules,
)
from multilogin.platform_trust import default_name, trust_from
from multilogin.usernames import (
    DEFAULT_USERNAME_PATTERN,
    first_present,
    lookup_claim,
    normalize_username,
    username_problem,
)

COURSE = "course-{platform}.{context_id}"
PATTERN = re.compile(DEFAULT_USERNAME_PATTERN)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("student", "student"),
        ("  Student ", "student"),
        ("Ju\u0308rgen", "j\u00fcrgen"),  # decomposed umlaut: composed (NFC)
        (
            "\uff33\uff34\uff35\uff24\uff25\uff2e\uff34",
            "\uff53\uff54\uff55\uff44\uff45\uff4e\uff54",
        ),
    ],
)
def test_normalize_username_composes_but_never_folds_look_alikes(raw: str, normalised: str):
    assert normalize_username(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "\uff41\uff44\uff4d\uff49\uff4e",  # full-width admin
        "\u1d43\u1d48\u1d50\u2071\u207f",  # modifier letters
        "\ufb01ona",  # the fi ligature
        "\u212aate",  # Kelvin sign, which NFC turns into K
    ],
)
def test_look_alikes_are_refused(raw: str):
    assert username_problem(raw, PATTERN) == "it contains characters that look like other letters"


@pytest.mark.parametrize("raw", ["jane.doe", "a--b", "-a", "a-", "j\u00fcrgen", "x" * 64, ""])
def test_names_outside_the_default_pattern_are_refused(raw: str):
    assert username_problem(raw, PATTERN) == "it does not have the form of a hub username"


@pytest.mark.parametrize("raw", ["Student", "gpu-student", "learner-01", "a", "x" * 63])
def test_campus_names_have_the_default_form(raw: str):
    assert username_problem(raw, PATTERN) is None


def test_platform_names_default_to_the_issuer_host_or_key():
    assert default_name("https://moodle.campus.example.edu/") == "moodle-campus-example-edu"
    assert default_name("Moodle Key!") == "moodle-key"
    assert trust_from({}, "https://m.example.org", "x").name == "m-example-org"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"name": "Has.Dot"}, "does not match"),
        ({"authoritative_usernames": "("}, "not a regular expression"),
        ({"unlinked_identities": "join-by-name"}, "is not one of"),
    ],
)
def test_bad_trust_entries_stop_the_hub(entry: dict, problem: str):
    with pytest.raises(ValueError, match=problem):
        trust_from(entry, "key", "LTI11Login.consumer_trust[key]")


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
    lti = LoginFacts(
        LTI13, lti_roles=(ROLE_INSTRUCTOR,), context_id="Course 7/A", platform="moodle"
    )

    assert entitlements_for(keycloak, DEFAULT_ENTITLEMENT_RULES, COURSE) == ["admin", "gpu"]
    assert entitlements_for(lti, DEFAULT_ENTITLEMENT_RULES, COURSE) == [
        "course-moodle.course-7-a",
        "instructor",
    ]


@pytest.mark.parametrize(
    ("role", "in_course"),
    [
        ("Instructor", True),
        (ROLE_INSTRUCTOR, True),
        ("http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant", True),
        ("urn:lti:role:ims/lis/Instructor", True),
        ("http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor", False),
        ("urn:lti:instrole:ims/lis/Instructor", False),
        ("http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator", False),
    ],
)
def test_only_course_roles_count(role: str, in_course: bool):
    assert is_course_role(role) is in_course
    facts = LoginFacts(LTI13, lti_roles=(role,), context_id="1", platform="moodle")
    granted = entitlements_for(facts, DEFAULT_ENTITLEMENT_RULES, None)
    assert ("instructor" in granted) is in_course


def test_keycloak_groups_do_not_match_lti_launches():
    rules = [{"keycloak_groups": ["Instructor"], "grant": ["x"]}]

    assert entitlements_for(LoginFacts(LTI11, lti_roles=("Instructor",)), rules, None) == []


def test_course_restricted_rule_grants_only_in_that_course():
    rules = [{"lti_roles": ["Learner"], "lti_courses": ["moodle/ml"], "grant": ["gpu"]}]

    def granted(platform: str, context_id: str) -> list[str]:
        facts = LoginFacts(LTI11, lti_roles=("Learner",), context_id=context_id, platform=platform)
        return entitlements_for(facts, rules, None)

    assert granted("moodle", "ml") == ["gpu"]
    assert granted("moodle", "art") == []
    assert granted("other-moodle", "ml") == []


def test_rules_naming_courses_without_their_platform_say_how_to_migrate():
    with pytest.raises(ValueError, match=r"use lti_courses with entries `<platform>/<context_id>`"):
        validate_rules([{"lti_roles": ["Learner"], "lti_context_ids": ["1"], "grant": ["x"]}], "a")


def test_rules_granting_admin_from_lti_are_rejected():
    with pytest.raises(ValueError, match="admin may only come from a Keycloak group"):
        validate_rules([{"lti_roles": ["Administrator"], "grant": ["admin"]}], "admin")


@pytest.mark.parametrize(
    "rules",
    [
        [{"grant": ["x"]}],
        [{"keycloak_groups": ["a"], "lti_roles": ["b"], "grant": ["x"]}],
        [{"keycloak_groups": ["a"], "grant": ["Not A Group"]}],
        [{"keycloak_groups": ["a"], "lti_courses": ["m/c"], "grant": ["x"]}],
        [{"lti_roles": ["a"], "lti_courses": ["no-platform"], "grant": ["x"]}],
        [{"keycloak_groups": ["a"], "grant": ["x"], "typo": 1}],
    ],
)
def test_malformed_rules_are_rejected_with_their_location(rules: list):
    with pytest.raises(ValueError, match=r"entitlement_rules at 0"):
        validate_rules(rules, "admin")


def course_facts(source: str, context_id: str) -> LoginFacts:
    return LoginFacts(source, context_id=context_id, platform="moodle")


def test_keycloak_share_is_replaced_and_course_shares_are_kept_per_course():
    grants = merge_grants(None, LoginFacts(KEYCLOAK), ["admin", "gpu"], now=0)
    grants = merge_grants(grants, course_facts(LTI11, "1"), ["course-1", "instructor"], now=0)
    grants = merge_grants(grants, course_facts(LTI13, "2"), ["course-2"], now=0)
    grants = merge_grants(grants, course_facts(LTI11, "1"), ["course-1"], now=0)
    grants = merge_grants(grants, LoginFacts(KEYCLOAK), ["gpu"], now=0)

    assert groups_from_grants(grants, "admin", KEYCLOAK) == ["course-1", "course-2", "gpu"]


def test_course_shares_expire_after_their_last_launch():
    grants = merge_grants(None, course_facts(LTI11, "1"), ["course-1"], now=100)
    grants = merge_grants(grants, course_facts(LTI11, "2"), ["course-2"], now=200)

    assert groups_from_grants(unexpired(grants, 250, 160), "admin", LTI11) == [
        "course-1",
        "course-2",
    ]
    assert groups_from_grants(unexpired(grants, 250, 60), "admin", LTI11) == ["course-2"]


def test_admin_counts_only_from_keycloak_in_a_keycloak_session():
    grants = merge_grants(None, LoginFacts(KEYCLOAK), ["admin"], now=0)
    grants = merge_grants(grants, course_facts(LTI11, "1"), ["admin", "course-1"], now=0)

    assert groups_from_grants(grants, "admin", KEYCLOAK) == ["admin", "course-1"]
    assert groups_from_grants(grants, "admin", LTI11) == ["course-1"]


def test_grants_of_earlier_versions_drop_their_unexpiring_lti_list():
    assert groups_from_grants({"keycloak": ["gpu"], "lti": ["instructor"]}, "a", LTI11) == ["gpu"]


def test_keycloak_switched_on_without_configuration_stops_the_hub():
    with pytest.raises(ValueError, match=r"KeycloakLogin lacks authorize_url.*client_id"):
        MultiLoginAuthenticator()


def test_sources_can_be_switched_off():
    authenticator = MultiLoginAuthenticator(enable_keycloak=False, enable_lti11=False)

    routes = [route[0] for route in authenticator.get_handlers(None)]
    assert routes == [
        "/lti/launch",
        "/lti13/oauth_login",
        "/lti13/oauth_callback",
        "/lti13/config",
        "/linked-identities",
    ]
    assert "multilogin-keycloak" not in authenticator.get_custom_html("/hub/")
