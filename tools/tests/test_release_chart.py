"""The released chart, with the real helm: pinned values, version, appVersion, comparison."""

import hashlib
import time
from pathlib import Path

import pytest
import yaml

from tools import binaries
from tools.bootstrap.run import run
from tools.images.chart_values import image_values
from tools.images.lock import LockedImage
from tools.release import chart

DIGEST = "sha256:" + "ab" * 32
PUSHED = {
    "hub": LockedImage("jupyterhub-k8s/hub", "0123456789ab", "c" * 64, "sha256:1",
                       f"reg.example/jupyterhub-k8s/hub@{DIGEST}"),
    "lab-nlp": LockedImage("jupyterhub-k8s/lab-nlp", "ba9876543210", "d" * 64, "sha256:2",
                           f"reg.example/jupyterhub-k8s/lab-nlp@{DIGEST}"),
}  # fmt: skip


def tree_digest(folder: Path) -> str:
    hashed = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            hashed.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return hashed.hexdigest()


def packaged(tmp_path: Path, pinned: dict, version: str = "1.2.0") -> Path:
    staged = chart.stage(tmp_path / "staging", pinned)
    return chart.package(staged, version, tmp_path / "package", tmp_path / "helm.log")


def test_the_staged_chart_defaults_to_the_pushed_digests_and_the_tree_is_untouched(
    tmp_path: Path,
) -> None:
    before = tree_digest(chart.CHART)
    staged = chart.stage(tmp_path, image_values(PUSHED, {"lab-nlp"}))
    values = yaml.safe_load((staged / "values.yaml").read_text())
    assert values["hub"]["image"] == {
        "name": "reg.example/jupyterhub-k8s/hub",
        "tag": "0123456789ab",
        "digest": DIGEST,
        "pullPolicy": "IfNotPresent",
    }
    assert values["singleuser"]["images"]["lab-nlp"]["digest"] == DIGEST
    assert values["proxy"]["chp"]["image"]["digest"] == "", "an image not released stays as it was"
    assert tree_digest(chart.CHART) == before


def test_helm_renders_the_hub_from_its_digest(tmp_path: Path) -> None:
    staged = chart.stage(tmp_path, image_values(PUSHED, set()))
    rendered = run([binaries.ensure("helm"), "template", "hub", staged])
    deployments = [
        document
        for document in yaml.safe_load_all(rendered)
        if document
        and document["kind"] == "Deployment"
        and document["metadata"]["labels"]["app.kubernetes.io/component"] == "hub"
    ]
    containers = deployments[0]["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == f"reg.example/jupyterhub-k8s/hub@{DIGEST}"


def test_the_package_carries_the_release_version_as_version_and_app_version(
    tmp_path: Path,
) -> None:
    package = packaged(tmp_path, image_values(PUSHED, set()), "1.2.0-rc.1")
    chart_yaml = yaml.safe_load(chart.contents(package)["jupyterhub-k8s/Chart.yaml"])
    assert (chart_yaml["version"], chart_yaml["appVersion"]) == ("1.2.0-rc.1", "1.2.0-rc.1")


def test_a_value_outside_the_schema_is_not_packaged(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="lint"):
        packaged(tmp_path, {"hub": {"image": {"digest": 42}}})


def test_two_packages_of_the_same_chart_are_identical_and_other_pins_differ(
    tmp_path: Path,
) -> None:
    first = packaged(tmp_path / "a", image_values(PUSHED, {"lab-nlp"}))
    time.sleep(1.1)  # helm writes the time into the archive: a second later, other bytes
    second = packaged(tmp_path / "b", image_values(PUSHED, {"lab-nlp"}))
    other = packaged(tmp_path / "c", image_values(PUSHED, set()))
    assert first.read_bytes() != second.read_bytes()
    assert chart.differences(first, second) == []
    assert chart.differences(first, other) == ["jupyterhub-k8s/values.yaml"]


@pytest.mark.parametrize(
    ("registry", "flags"),
    [("localhost:5001", ["--plain-http"]), ("127.0.0.1:40000/x", ["--plain-http"]),
     ("registry.example.edu/jupyterhub", []), ("localhost.example.edu", ["--plain-http"])],
)  # fmt: skip
def test_plain_http_only_for_loopback(registry: str, flags: list[str]) -> None:
    assert chart.plain_http(registry) == flags
