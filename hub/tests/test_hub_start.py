"""Values that break a rule across keys stop the hub at start, naming the key and the value.

The schema checks each value on its own; these rules relate values to each other. The chart's
jupyterhub_config.py calls `configure_from_environment` when the hub starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hub_fakes import (  # noqa: F401 - pytest fixtures, used by name
    chart_values_fixture,
    hub_environment,
)
from traitlets.config import Config

from hubconfig import configure_from_environment


def start_hub_with(chart_values: dict, tmp_path: Path) -> str:
    """The message the hub stops with when it starts with these values."""
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(chart_values))
    with pytest.raises(SystemExit) as stopped:
        configure_from_environment(Config(), hub_environment(path))
    return str(stopped.value)


def duplicate_slug(singleuser: dict) -> None:
    singleuser["profileList"].append({**singleuser["profileList"][0], "displayName": "Again"})


def unknown_image(singleuser: dict) -> None:
    singleuser["profileList"][2]["image"] = "gpu-lab2"


def course_of_no_profile(singleuser: dict) -> None:
    singleuser["courseProfiles"]["moodle/ml-1"] = "deep-learning"


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        (
            duplicate_slug,
            "singleuser.profileList[3].slug: duplicate slug 'cpu', already the slug of "
            "singleuser.profileList[0]",
        ),
        (
            unknown_image,
            "singleuser.profileList[2].image: unknown image key 'gpu-lab2' "
            "(keys of singleuser.images: lab-nlp)",
        ),
        (
            course_of_no_profile,
            "singleuser.courseProfiles.moodle/ml-1: unknown profile slug 'deep-learning' "
            "(slugs of singleuser.profileList: cpu, nlp, gpu)",
        ),
    ],
)
def test_a_rule_across_keys_stops_the_hub_naming_the_value(
    chart_values: dict, tmp_path: Path, mistake: Callable[[dict], None], message: str
) -> None:
    mistake(chart_values["singleuser"])
    stopped = start_hub_with(chart_values, tmp_path)
    assert stopped.startswith("jupyterhub-k8s: ")
    assert message in stopped


def test_every_broken_rule_is_named_at_once(chart_values: dict, tmp_path: Path) -> None:
    unknown_image(chart_values["singleuser"])
    course_of_no_profile(chart_values["singleuser"])
    stopped = start_hub_with(chart_values, tmp_path)
    assert "singleuser.profileList[2].image: unknown image key 'gpu-lab2'" in stopped
    assert "singleuser.courseProfiles.moodle/ml-1: unknown profile slug" in stopped
