"""The two releases a rehearsal installs from the local registry: the previous one, built from a
recorded commit by that commit's own release session, and the one under test (a release made
here before, by version, or one made now of the working tree).

Both are staged the way a tag's release is (`--published-as`): their charts name the images in
`PUBLISHED_AS`, a production-like registry that the kind nodes resolve to the local registry only,
so the rehearsal pulls exactly what a promotion would copy to production.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devenv import dev_env
from tools import local_registry
from tools.bootstrap.paths import REPO_ROOT, cache_dir, logs_dir
from tools.bootstrap.progress import say
from tools.bootstrap.run import run, succeeds
from tools.images import spec
from tools.release import chart, images, release, version

PREVIOUS_RELEASE = Path(__file__).with_name("previous-release.toml")
PUBLISHED_AS = "registry.campus.test"
COMMIT_LENGTH = 40


class RehearsalReleaseError(RuntimeError):
    """The recorded previous release is malformed, or a release could not be made."""


@dataclass(frozen=True)
class RecordedRelease:
    """A release by version and the commit it is built from."""

    version: str
    commit: str


def recorded_previous(path: Path = PREVIOUS_RELEASE) -> RecordedRelease:
    """The release the rehearsal upgrades from (previous-release.toml), checked."""
    try:
        recorded = tomllib.loads(path.read_text())
        commit = recorded["commit"]
        if len(commit) != COMMIT_LENGTH or not all(c in "0123456789abcdef" for c in commit):
            raise RehearsalReleaseError(f"{path}: commit must be 40 lowercase hex digits")
        return RecordedRelease(version.parse(recorded["version"]), commit)
    except (KeyError, TypeError, tomllib.TOMLDecodeError, version.VersionError) as error:
        raise RehearsalReleaseError(f"{path}: {error}") from error


def source_tree(commit: str) -> Path:
    """A clone of this repo at `commit` in the cache, made once. A clone, not a worktree: it
    outlives the checkout that made it (CI clones into a temporary folder)."""
    folder = cache_dir() / "rehearsal" / f"clone-{commit[:12]}"
    if folder.exists() and not succeeds(["git", "-C", folder, "cat-file", "-e", commit]):
        shutil.rmtree(folder)
    if not folder.exists():
        run(["git", "clone", "--quiet", "--no-checkout", REPO_ROOT, folder])
    if run(["git", "-C", folder, "rev-parse", "HEAD"]).strip() != commit:
        run(["git", "-C", folder, "checkout", "--quiet", "--detach", commit])
    return folder


def pinned_images(values: Any, published: str) -> list[tuple[str, str]]:
    """Each `{name, digest}` image in chart values that names `published`, as the repository
    path and digest it was pushed under: `registry.campus.test/jupyterhub-k8s/hub` and its digest
    are `("jupyterhub-k8s/hub", "sha256:...")`."""
    if isinstance(values, list):
        return [image for item in values for image in pinned_images(item, published)]
    if not isinstance(values, dict):
        return []
    name, digest = values.get("name"), values.get("digest")
    if isinstance(name, str) and name.startswith(f"{published}/") and digest:
        return [(name.removeprefix(f"{published}/"), str(digest))]
    return [image for value in values.values() for image in pinned_images(value, published)]


def released_values(version: str, registry_path: str) -> dict[str, Any] | None:
    """The chart values of release `version` in the registry at `registry_path`; None when that
    release is not there."""
    with tempfile.TemporaryDirectory(prefix=f"rehearsal-{version}-") as tmp:
        log = logs_dir() / f"rehearsal-pull-{version}.log"
        pulled = chart.pull(registry_path, version, Path(tmp), log)
        if pulled is None:
            return None
        return yaml.safe_load(chart.contents(pulled[0])[f"{chart.CHART_NAME}/values.yaml"])


def released_lab_keys(version: str, registry_path: str = local_registry.HOST_ENDPOINT) -> set[str]:
    """The `singleuser.images` keys that release `version` pins, from its own chart."""
    values = released_values(version, registry_path)
    if values is None:
        raise RehearsalReleaseError(f"{chart.CHART_NAME} {version} is not in {registry_path}")
    return set((values.get("singleuser") or {}).get("images") or {})


def released_already(version: str, registry_path: str, published: str = PUBLISHED_AS) -> bool:
    """Whether `version` is in the registry at `registry_path` already, its chart and every image
    that chart pins. A release is never made twice: one found there is the release, and making
    it again would pin other digests wherever an image's build is not bit-for-bit reproducible.
    A chart whose images are gone is refused (RehearsalReleaseError), not rebuilt over."""
    values = released_values(version, registry_path)
    if values is None:
        return False
    endpoint, _, path = registry_path.partition("/")
    missing = [
        f"{repository}@{digest}"
        for repository, digest in pinned_images(values, published)
        if local_registry.served_digest(endpoint, "/".join(filter(None, (path, repository))),
                                        digest) is None
    ]  # fmt: skip
    if missing:
        raise RehearsalReleaseError(
            f"{chart.CHART_NAME} {version} is in {registry_path}, but not the images it pins "
            f"({', '.join(missing)}): empty the local registry ({local_registry.storage_dir()}) "
            "and rehearse again"
        )
    return True


def release_previous(previous: RecordedRelease) -> str:
    """Release the recorded commit with its own tooling (its images, its chart, its pins) into
    the local registry, unless it is there already (`released_already`)."""
    local_registry.ensure_running()
    if released_already(previous.version, local_registry.HOST_ENDPOINT):
        say(f"    {previous.version} is in the local registry with every image it pins: kept")
        return previous.version
    source = source_tree(previous.commit)
    log = logs_dir() / f"rehearsal-release-{previous.version}.log"
    say(f"    release {previous.version} from {previous.commit[:12]} (log: {log})")
    paths = os.pathsep.join(str(source / path) for path in (".", "devservices"))
    run(
        [sys.executable, "-m", "tools.release", previous.version,
         "--registry", local_registry.HOST_ENDPOINT, "--published-as", PUBLISHED_AS],
        cwd=source, env={**os.environ, "PYTHONPATH": paths}, log=log,
    )  # fmt: skip
    return previous.version


def working_tree_version() -> str:
    """A pre-release version naming the commit (`0.1.0-rehearsal.g<commit>`), and the time too
    when the tree has changes, since a version is never released twice with other content."""
    base = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    commit = run(["git", "-C", REPO_ROOT, "rev-parse", "--short=12", "HEAD"]).strip()
    # The image lock is rewritten by every build on this machine; it is not release content.
    changed = run(["git", "-C", REPO_ROOT, "status", "--porcelain", "--untracked-files=no",
                   "--", ".", ":!images/images.lock.json"])  # fmt: skip
    suffix = f".changed.{int(time.time())}" if changed.strip() else ""
    return version.parse(f"{base}-rehearsal.g{commit}{suffix}")


def working_tree_images() -> list[str]:
    """The images a rehearsal release of the working tree holds: the chart's default ones and
    the lab images the dev profiles start (lab-deeplearning, which the dev environment has built
    and pushed already), so that the stories run every dev lab as released. Other non-default
    images (lab-deeplearning-cu12) stay out; a tag's release takes them with `--images all`."""
    specs, started = spec.load(), dev_env.dev_lab_keys()
    return [
        name
        for name in images.chart_images(specs, everything=True)
        if specs[name].default or name in started
    ]


def working_tree_lab_keys() -> set[str]:
    """The `singleuser.images` keys that release pins."""
    return images.lab_keys(working_tree_images(), spec.load())


def release_working_tree() -> str:
    """Release the working tree's images (`working_tree_images`) and chart into the local
    registry."""
    name = working_tree_version()
    release.release(
        name, local_registry.HOST_ENDPOINT, working_tree_images(), published=PUBLISHED_AS
    )
    return name
