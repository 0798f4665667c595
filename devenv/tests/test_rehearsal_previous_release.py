"""The previous release a rehearsal upgrades from is taken as it is in the registry, never
released again over itself: a real registry (CNCF Distribution as a host process), the real
helm and Docker, one image that is built already."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.rehearsal import releases
from tools import docker, local_registry
from tools.images import lock
from tools.release.release import release

pytestmark = pytest.mark.integration

IMAGE = "configurable-http-proxy"
VERSION = "4.5.6"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    with local_registry.serve(tmp_path / "registry") as endpoint:
        yield endpoint
    for reference in docker.references(f"{endpoint}/jupyterhub-k8s/{IMAGE}"):
        docker.remove(reference)  # the tag the push left in Docker


def staged_release(registry: str, tmp_path: Path) -> lock.LockedImage:
    """A release staged in `registry` whose chart names the rehearsal's production registry."""
    notes = tmp_path / "upgrading.md"
    notes.write_text(f"# Upgrading\n\n## {VERSION}\n\nNothing to change.\n")
    made = release(
        VERSION, registry, [IMAGE], tmp_path / "releases", published=releases.PUBLISHED_AS,
        notes=notes,
    )  # fmt: skip
    return lock.read(made.folder / "images.lock.json")[IMAGE]


def test_a_version_not_in_the_registry_is_not_released_already(registry: str) -> None:
    assert not releases.released_already(VERSION, registry)


def test_a_release_in_the_registry_with_its_images_is_kept(registry: str, tmp_path: Path) -> None:
    staged_release(registry, tmp_path)
    assert releases.released_already(VERSION, registry)


def test_a_release_whose_pinned_image_is_gone_is_refused(registry: str, tmp_path: Path) -> None:
    pushed = staged_release(registry, tmp_path)
    repository, _, digest = pushed.digest.removeprefix(f"{registry}/").partition("@")
    assert local_registry.served_digest(registry, repository, digest) == digest
    deleted = local_registry.delete_manifest(registry, repository, digest)
    assert deleted and local_registry.served_digest(registry, repository, digest) is None
    with pytest.raises(releases.RehearsalReleaseError, match=f"{repository}@{digest}"):
        releases.released_already(VERSION, registry)


def test_the_pinned_images_are_found_wherever_the_values_hold_them() -> None:
    digest, at = "sha256:" + "a" * 64, releases.PUBLISHED_AS
    values = {
        "hub": {"image": {"name": f"{at}/jupyterhub-k8s/hub", "digest": digest}},
        "singleuser": {
            "image": {"name": "quay.io/jupyter/base-notebook", "digest": digest},
            "profileList": [{"image": {"name": f"{at}/a/lab", "digest": digest}}],
        },
        "prePuller": {"pause": {"image": {"name": f"{at}/pause", "digest": ""}}},
    }
    assert releases.pinned_images(values, releases.PUBLISHED_AS) == [
        ("jupyterhub-k8s/hub", digest),
        ("a/lab", digest),
    ]


def test_a_release_names_its_lab_keys_from_its_own_chart(registry: str, tmp_path: Path) -> None:
    with pytest.raises(releases.RehearsalReleaseError, match=f"{VERSION} is not in {registry}"):
        releases.released_lab_keys(VERSION, registry)
    staged_release(registry, tmp_path)
    # Released without a lab image, its chart pins none, whatever the working tree's labs are.
    assert releases.released_lab_keys(VERSION, registry) == set()
    assert releases.working_tree_lab_keys()
