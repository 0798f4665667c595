"""One release, start to end: images, chart, manifest, changelog; refused when the version is
already released with other content."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from tools import local_registry
from tools.bootstrap.paths import REPO_ROOT, logs_dir
from tools.bootstrap.progress import say, step
from tools.images import lock, spec
from tools.images.chart_values import image_values
from tools.release import changelog, chart, images, manifest, upgrade_notes
from tools.release.version import parse

RELEASES_DIR = REPO_ROOT / "dist" / "releases"
DEFAULT_REGISTRY = "localhost:5001"
CHANGELOG_NAME = "CHANGELOG.md"
# HOST[:PORT][/PATH]: a registry host name or IPv4 address (or [::1]), then repository path parts.
REGISTRY_PATH = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[::1\])(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
)


class ReleaseRefused(RuntimeError):
    """The version is in the registry already, with other content."""


class RegistryPathError(ValueError):
    """The registry is not HOST[:PORT][/PATH]."""


@dataclass(frozen=True)
class Released:
    folder: Path
    chart_digest: str
    already_released: bool


def check_registry(text: str) -> str:
    if len(text) <= 255 and REGISTRY_PATH.fullmatch(text):
        return text
    raise RegistryPathError(
        f"{text!r} is not a registry: write HOST[:PORT][/PATH] (e.g. localhost:5001 or "
        "registry.example.edu/jupyterhub), without a scheme"
    )


def staging_for(published: str | None) -> str:
    """The local registry, under the repository path of `published` (`ghcr.io/campus` ->
    `localhost:5001/campus`): a node whose containerd mirrors `ghcr.io` to the local registry then
    pulls the images the chart names there from this staging copy."""
    if published is None:
        return DEFAULT_REGISTRY
    _, _, path = check_registry(published).partition("/")
    return f"{DEFAULT_REGISTRY}/{path}" if path else DEFAULT_REGISTRY


def published_as(
    pushed: dict[str, lock.LockedImage], registry_path: str, published: str
) -> dict[str, lock.LockedImage]:
    """The pushed images as the chart names them: under `published` (the registry a promotion
    copies them to) instead of `registry_path`, with the same digests."""
    pushed_prefix = registry_path.rstrip("/") + "/"
    return {
        name: replace(
            entry, digest=published.rstrip("/") + "/" + entry.digest.removeprefix(pushed_prefix)
        )
        for name, entry in pushed.items()
    }


def release(
    version: str,
    registry_path: str,
    names: list[str],
    releases: Path = RELEASES_DIR,
    published: str | None = None,
    notes: Path = upgrade_notes.UPGRADE_NOTES,
) -> Released:
    """Release `names` (images of images.toml; the chart pins those it runs) as `version`,
    pushed to `registry_path`; the chart names the images under `published` (default: the same
    registry), where `python -m tools.release.promote` copies them by digest. A final version
    needs its section in the upgrade notes `notes` (UpgradeNotesMissing)."""
    version, registry_path = parse(version), check_registry(registry_path)
    upgrade_notes.check(version, notes)
    published = check_registry(published or registry_path)
    if registry_path.split("/")[0] == local_registry.HOST_ENDPOINT:
        local_registry.ensure_running()
    specs = spec.load()
    commit = changelog.git("rev-parse", "HEAD")
    # Before the build, which rewrites the lock entries of what it builds.
    modified = changelog.git("diff", "--name-only", "HEAD")
    untracked = changelog.git("ls-files", "--others", "--exclude-standard")
    uncommitted = sorted(f"{modified}\n{untracked}".split())
    logs = logs_dir() / "release"
    logs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"release-{version}-") as tmp:
        work = Path(tmp)
        with step(f"release {version}: images {', '.join(names) or '(none)'} to {registry_path}"):
            release_lock = work / "images.lock.json"
            pushed = images.build_and_push(specs, names, registry_path, release_lock)
        with step(f"release {version}: chart"):
            named = published_as(pushed, registry_path, published)
            pinned = image_values(named, images.lab_keys(names, specs))
            staged = chart.stage(work / "staging", pinned)
            packaged = chart.package(staged, version, work / "package", logs / "package.log")
            existing = chart.pull(registry_path, version, work / "released", logs / "pull.log")
            reference = f"{chart.oci_repository(registry_path)}/{chart.CHART_NAME}"
            if existing is None:
                digest = chart.push(packaged, registry_path, logs / "push.log")
                say(f"    pushed {reference}:{version}")
            else:
                released, digest = existing
                changed = chart.differences(released, packaged)
                if changed:
                    raise ReleaseRefused(
                        f"{chart.CHART_NAME} {version} is already in {registry_path} with other "
                        f"content ({', '.join(changed)} differ); a release is never replaced: "
                        "release a new version"
                    )
                say(f"    {version} is in {registry_path} already, identical; nothing pushed")
        folder = releases / version
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(packaged, folder / packaged.name)
        shutil.copyfile(release_lock, folder / release_lock.name)
        record = manifest.document(
            version=version,
            commit=commit,
            uncommitted=uncommitted,
            registry_path=registry_path,
            published=published,
            chart_reference=reference,
            chart_digest=digest,
            pushed=pushed,
            release_lock=release_lock,
        )
        manifest.write(folder, record)
        (folder / CHANGELOG_NAME).write_text(changelog.section(version, releases))
    say(f"    release {version}: {folder} ({manifest.MANIFEST_NAME}, {CHANGELOG_NAME})")
    return Released(folder, digest, existing is not None)
