"""The mock Moodle's configuration file and its schema."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_moodle import config


def example() -> dict[str, Any]:
    return yaml.safe_load(config.EXAMPLE_CONFIG.read_text())


def test_the_example_config_is_valid() -> None:
    loaded = config.load(config.EXAMPLE_CONFIG)
    assert set(loaded.users) == {"student", "gpu-student", "instructor", "admin"}
    assert loaded.courses["101"].resource_link_id == "101-jupyterhub"
    assert loaded.tool.lti13_target_link_uri == loaded.tool.lti13_redirect_uris[0]


def test_urls_default_to_the_port_served() -> None:
    served = config.load(config.EXAMPLE_CONFIG).for_port(8123)
    assert served.url == "http://127.0.0.1:8123"
    assert served.issuer == "http://127.0.0.1:8123"


def test_a_configured_issuer_and_url_are_kept() -> None:
    data = example()
    data["platform"]["url"] = "https://moodle.example.edu/"
    data["lti13"]["issuer"] = "https://moodle.example.edu"
    served = config.from_dict(data).for_port(8123)
    assert served.url == "https://moodle.example.edu"
    assert served.issuer == "https://moodle.example.edu"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("tool"), r"\(top level\): 'tool' is a required property"),
        (lambda d: d["users"][1].update(roles=["Teacher"]), r"users/1/roles/0: 'Teacher'"),
        (
            lambda d: d["lti11"].update(shared_secret=""),
            r"lti11/shared_secret: .* non-empty",
        ),
        (lambda d: d["tool"].update(lti11_launch_url="ftp://x"), r"tool/lti11_launch_url"),
        (lambda d: d["courses"][0].update(colour="red"), r"courses/0: Additional properties"),
        (lambda d: d["users"].append(dict(d["users"][0])), r"users: each username must be unique"),
    ],
)
def test_invalid_configs_name_the_problem(change: Any, message: str) -> None:
    data = example()
    change(data)
    with pytest.raises(config.ConfigError, match=message):
        config.from_dict(data)


def test_unreadable_and_non_yaml_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [unclosed\n")
    with pytest.raises(config.ConfigError, match="is not valid YAML"):
        config.load(broken)


LECTURE = {"prefix": "learner-", "count": 100, "first_user_id": 10001, "roles": ["Learner"]}


def test_a_cohort_makes_as_many_numbered_learners_as_it_asks_for() -> None:
    loaded = config.from_dict({**example(), "cohorts": [LECTURE]})
    cohort = [name for name in loaded.users if name.startswith("learner-")]
    assert cohort == [f"learner-{number:03d}" for number in range(1, 101)]
    last = loaded.users["learner-100"]
    assert (last.user_id, last.roles) == ("10100", ("Learner",))
    assert loaded.cohorts == {"learner-": tuple(cohort)}


@pytest.mark.parametrize(
    ("cohort", "message"),
    [
        ({**LECTURE, "count": 100_000}, r"cohorts/0/count: 100000 is greater than"),
        ({**LECTURE, "count": 0}, r"cohorts/0/count: 0 is less than"),
        ({**LECTURE, "prefix": "../admin"}, r"cohorts/0/prefix: '../admin' does not match"),
        ({**LECTURE, "prefix": "Learner "}, r"cohorts/0/prefix: 'Learner ' does not match"),
        ({**LECTURE, "roles": ["Teacher"]}, r"cohorts/0/roles/0: 'Teacher'"),
        ({**LECTURE, "prefix": "stu", "count": 1}, r"users: each username must be unique"),
    ],
)
def test_a_cohort_out_of_bounds_names_the_problem(cohort: dict[str, Any], message: str) -> None:
    data = example()
    data["users"].append({**data["users"][0], "username": "stu1"})
    with pytest.raises(config.ConfigError, match=message):
        config.from_dict({**data, "cohorts": [cohort]})


def test_two_cohorts_with_one_prefix_are_refused() -> None:
    with pytest.raises(config.ConfigError, match="cohorts: each prefix must be unique"):
        config.from_dict({**example(), "cohorts": [LECTURE, {**LECTURE, "count": 5}]})
