"""A release into a real registry (CNCF Distribution as a host process) with the real helm and
Docker: one image that is built already, the chart pulled back by version."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tools import binaries, docker, local_registry
from tools.bootstrap.run import run
from tools.images import lock
from tools.images.registry import remote_name
from tools.local_registry import serve
from tools.release.promote import PromotionError, promote
from tools.release.release import ReleaseRefused, release

pytestmark = pytest.mark.integration

IMAGE = "configurable-http-proxy"
VERSION = "1.2.3"


def served_digest(endpoint: str, repository: str, tag: str) -> str:
    digest = local_registry.served_digest(endpoint, repository, tag)
    assert digest is not None, f"{endpoint} holds no {repository}:{tag}"
    return digest


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    with serve(tmp_path / "registry") as endpoint:
        yield endpoint
    for reference in docker.references(f"{endpoint}/jupyterhub-k8s/{IMAGE}"):
        docker.remove(reference)  # the tag the push left in Docker


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """Upgrade notes with the section a final release needs."""
    path = tmp_path / "upgrading.md"
    path.write_text(f"# Upgrading\n\n## {VERSION}\n\nNothing to change.\n")
    return path


def pulled_values(endpoint: str, destination: Path) -> tuple[dict, dict]:
    reference = f"oci://{endpoint}/charts/jupyterhub-k8s"
    run([binaries.ensure("helm"), "pull", reference, "--version", VERSION, "--untar",
         "--destination", destination, "--plain-http"])  # fmt: skip
    folder = destination / "jupyterhub-k8s"
    return (
        yaml.safe_load((folder / "Chart.yaml").read_text()),
        yaml.safe_load((folder / "values.yaml").read_text()),
    )


def test_a_release_pins_the_pushed_digests_and_is_never_replaced(
    registry: str, notes: Path, tmp_path: Path
) -> None:
    working_tree_digest = lock.read()[IMAGE].digest
    releases = tmp_path / "releases"

    first = release(VERSION, registry, [IMAGE], releases, notes=notes)

    chart_yaml, values = pulled_values(registry, tmp_path / "pulled")
    tag = lock.read(first.folder / "images.lock.json")[IMAGE].tag
    image_digest = served_digest(registry, f"jupyterhub-k8s/{IMAGE}", tag)
    assert (chart_yaml["version"], chart_yaml["appVersion"]) == (VERSION, VERSION)
    assert values["proxy"]["chp"]["image"] == {
        "name": f"{registry}/jupyterhub-k8s/{IMAGE}",
        "tag": tag,
        "digest": image_digest,
        "pullPolicy": "IfNotPresent",
    }
    assert values["hub"]["image"]["digest"] == "", "only the released image is pinned"
    chart_digest = served_digest(registry, "charts/jupyterhub-k8s", VERSION)
    assert first.chart_digest == chart_digest
    assert not first.already_released
    recorded = json.loads((first.folder / "release.json").read_text())
    assert (
        recorded["images"][IMAGE]["digest"] == f"{registry}/jupyterhub-k8s/{IMAGE}@{image_digest}"
    )
    assert recorded["chart"]["digest"] == chart_digest
    assert recorded["commit"] == run(["git", "rev-parse", "HEAD"]).strip()
    assert (first.folder / "CHANGELOG.md").read_text().startswith(f"## {VERSION} (")
    assert lock.read()[IMAGE].digest == working_tree_digest, "the working tree's lock is kept"

    again = release(VERSION, registry, [IMAGE], releases, notes=notes)
    assert again.already_released
    assert again.chart_digest == chart_digest

    manifest_before = (first.folder / "release.json").read_text()
    with pytest.raises(ReleaseRefused, match=r"already in .* with other content"):
        release(VERSION, registry, [], releases, notes=notes)
    assert served_digest(registry, "charts/jupyterhub-k8s", VERSION) == chart_digest
    assert (first.folder / "release.json").read_text() == manifest_before


def test_a_staged_release_is_promoted_to_the_registry_its_chart_names(
    registry: str, notes: Path, tmp_path: Path
) -> None:
    releases = tmp_path / "releases"
    with serve(tmp_path / "production") as production:
        staged = release(VERSION, registry, [IMAGE], releases, published=production, notes=notes)
        _, values = pulled_values(registry, tmp_path / "staged")
        image = values["proxy"]["chp"]["image"]
        path = remote_name("", lock.read(staged.folder / "images.lock.json")[IMAGE].repository)
        assert image["name"] == f"{production}{path}", "the staged chart names production"
        assert served_digest(registry, path.lstrip("/"), image["tag"]) == image["digest"]

        promote(VERSION, releases)

        assert served_digest(production, path.lstrip("/"), image["tag"]) == image["digest"]
        chart_digest = served_digest(production, "charts/jupyterhub-k8s", VERSION)
        assert chart_digest == staged.chart_digest, "production gets the staged chart itself"


def test_a_release_pushed_where_it_is_published_has_nothing_to_promote(
    registry: str, notes: Path, tmp_path: Path
) -> None:
    releases = tmp_path / "releases"
    release(VERSION, registry, [], releases, notes=notes)
    with pytest.raises(PromotionError, match="nothing to promote"):
        promote(VERSION, releases)
