"""The chart's values files validate against the one schema; mistakes come back readable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hub_fakes import VALUES_FILES, chart_defaults, values_with

from hubconfig import values


def test_schema_is_the_charts_file() -> None:
    chart_schema = VALUES_FILES / "jupyterhub-k8s" / "values.schema.json"
    packaged = Path(values.__file__).with_name("values.schema.json")
    assert packaged.resolve() == chart_schema.resolve()


DEV_SERVICES_VALUES = VALUES_FILES.parent / "devenv" / "services" / "values-dev-services.yaml"


@pytest.mark.parametrize(
    "files",
    [("values-dev.yaml",), ("values-production.yaml",), ("values-dev.yaml", DEV_SERVICES_VALUES)],
)
def test_values_files_are_valid(files: tuple) -> None:
    overrides = [yaml.safe_load((VALUES_FILES / name).read_text()) for name in files]
    assert values.describe_errors(values_with(*overrides)) == []


def test_chart_defaults_are_valid() -> None:
    assert values.describe_errors(values_with()) == []


def test_unknown_key_is_named_with_its_path() -> None:
    bad = values_with({"singleuser": {"profileList": [{**_profile(), "gpu": 1}]}})
    with pytest.raises(values.ValuesError) as refused:
        values.validate(bad)
    assert "singleuser.profileList[0]: Additional properties are not allowed ('gpu'" in str(
        refused.value
    )


def test_wrong_type_is_named_with_its_path() -> None:
    bad = values_with({"cull": {"timeout": "1h"}})
    with pytest.raises(values.ValuesError, match=r"cull.timeout: '1h' is not of type 'integer'"):
        values.validate(bad)


def test_load_reports_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(values.ValuesError, match="cannot read the chart values"):
        values.load(tmp_path / "missing.yaml")


def test_load_reports_broken_yaml(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("hub: [unclosed\n")
    with pytest.raises(values.ValuesError, match="is not valid YAML"):
        values.load(path)


def test_load_accepts_defaults(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(chart_defaults()))
    assert values.load(path)["cull"]["enabled"] is True


def _profile() -> dict:
    return {"slug": "x", "displayName": "X", "cpu": {"limit": 1}, "memory": {"limit": "1G"}}


MIGRATION_HINT = (
    "prefix a bare context_id (the format before course keys) with its LTI platform name, "
    "e.g. moodle/101 for course 101"
)


@pytest.mark.parametrize("key", ["101", "nlp-101", "/101", "moodle/", "Moodle/101", "a--b/1"])
def test_course_key_without_a_platform_says_how_to_migrate(key: str) -> None:
    bad = values_with({"singleuser": {"courseProfiles": {key: "cpu"}}})
    with pytest.raises(values.ValuesError) as refused:
        values.validate(bad)
    assert f"singleuser.courseProfiles.{key}: " in str(refused.value)
    assert MIGRATION_HINT in str(refused.value)


def test_course_keys_name_the_platform_then_the_context_id() -> None:
    good = {"moodle/101": "cpu", "moodle-2/nlp-101": "cpu", "ilias/a/b c": "cpu"}
    assert values.describe_errors(values_with({"singleuser": {"courseProfiles": good}})) == []
