"""Build images whose inputs changed, record them in the lock file, and report each one."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tools import docker
from tools.bootstrap import dockerd, versions
from tools.bootstrap.paths import cache_dir, logs_dir
from tools.bootstrap.progress import say, step
from tools.bootstrap.run import RunError, run
from tools.images import content, fetch, lock
from tools.images.spec import DEBIAN_BASE, ImageSpec, SpecError, build_order

# Site CAs of the build host (e.g. a TLS-inspecting proxy's): handed to builder stages only, so
# that pip and npm reach their registries from there; final stages never see them.
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
# The Dockerfile ARG that names the image an image's build stage starts from (its `builder`).
BUILDER_ARG = "BUILDER_IMAGE"
# The weight of build containers against other processes (1024 is Docker's default).
LOW_PRIORITY_CPU_SHARES = 256
# Every image the project builds carries the full content hash of its inputs: an image is up to
# date when Docker has its reference with this label equal to the hash it would be built from.
CONTENT_HASH_LABEL = "io.github.jupyterhub-k8s.content-hash"


class BuildError(RuntimeError):
    """An image did not build; the message names its log."""


@dataclass(frozen=True)
class Plan:
    """An image as it would be built now: its inputs and the tag they hash to."""

    spec: ImageSpec
    files: dict[str, Path]
    build_args: dict[str, str]
    base_reference: str
    base_id: str
    content_hash: str

    @property
    def tag(self) -> str:
        return content.tag_for(self.content_hash)

    @property
    def reference(self) -> str:
        return f"{self.spec.repository}:{self.tag}"

    @property
    def alias(self) -> str | None:
        if self.spec.alias_tag is None:
            return None
        return f"{self.spec.repository}:{versions.get(self.spec.alias_tag)}"


Puller = Callable[[Plan], bool]
"""Fetches a plan's image from elsewhere (a registry) under its reference; False if it cannot."""


def pinned_build_args(spec: ImageSpec) -> dict[str, str]:
    return {arg: versions.get(key) for arg, key in spec.build_args.items()}


def plan(spec: ImageSpec, base_reference: str, builder_reference: str | None = None) -> Plan:
    """The image as it would be built now; a builder's reference (a hash tag) is hashed with the
    build args, so an image is rebuilt when its builder is."""
    base_id = docker.image_id(base_reference)
    if base_id is None:
        raise BuildError(f"{spec.name}: its base image {base_reference} is not in Docker")
    unknown = [name for name in spec.fetch if not fetch.known(name)]
    if unknown:
        raise SpecError(f"image {spec.name!r}: nothing knows how to fetch {unknown}")
    files = content.context_files(spec)
    args = pinned_build_args(spec)
    if builder_reference is not None:
        args[BUILDER_ARG] = builder_reference
    full_hash = content.content_hash(files, args, base_id)
    return Plan(spec, files, args, base_reference, base_id, full_hash)


def extra_ca_certs(folder: Path = LOCAL_CA_DIR) -> str:
    """The PEM text of the host's locally added CAs (empty where there are none)."""
    if not folder.is_dir():
        return ""
    return "".join(path.read_text() for path in sorted(folder.glob("*.crt")))


def build_command(
    job: Plan, context: Path, *, low_priority: bool, from_scratch: bool = False
) -> list[str]:
    args = {**job.build_args, "BASE_IMAGE": job.base_reference, "EXTRA_CA_CERTS": extra_ca_certs()}
    # --force-rm: a failed step's container (gigabytes for a lab) is not left behind.
    command = ["docker", "build", "--force-rm", "--tag", job.reference]
    command += ["--label", f"{CONTENT_HASH_LABEL}={job.content_hash}"]
    for key, value in args.items():
        command += ["--build-arg", f"{key}={value}"]
    if low_priority:
        command += ["--cpu-shares", str(LOW_PRIORITY_CPU_SHARES)]
    if from_scratch:
        command += ["--no-cache"]
    return [*command, str(context)]


def up_to_date(reference: str, content_hash: str) -> bool:
    """Whether Docker has `reference` built from inputs with this content hash."""
    return docker.image_label(reference, CONTENT_HASH_LABEL) == content_hash


def log_file(name: str) -> Path:
    folder = logs_dir() / "images"
    folder.mkdir(exist_ok=True)
    return folder / f"{name}.log"


def run_build(job: Plan, *, low_priority: bool, from_scratch: bool) -> None:
    log = log_file(job.spec.name)
    with tempfile.TemporaryDirectory(prefix=f"image-{job.spec.name}-") as tmp:
        context = Path(tmp)
        content.write_context(job.files, context)
        for name in job.spec.fetch:
            fetch.copy_into(name, context)
        say(f"    building {job.reference} (log: {log})")
        log.write_text("")
        try:
            run(
                build_command(job, context, low_priority=low_priority, from_scratch=from_scratch),
                log=log,
            )
        except RunError as error:
            raise BuildError(f"{job.spec.name} did not build: {error}") from error


def ensure_image(
    job: Plan, *, low_priority: bool, from_scratch: bool, pull: Puller | None = None
) -> str:
    """Make `job.reference` exist; return what was done: "up to date", "pulled" or "built"."""
    if not from_scratch and up_to_date(job.reference, job.content_hash):
        return "up to date"
    if not from_scratch and pull is not None and pull(job):
        return "pulled"
    run_build(job, low_priority=low_priority, from_scratch=from_scratch)
    return "built"


def build(
    specs: dict[str, ImageSpec],
    names: list[str],
    *,
    low_priority: bool = False,
    from_scratch: bool = False,
    pull: Puller | None = None,
) -> dict[str, lock.LockedImage]:
    """Build the named images (and their bases) that are not built yet; lock each one.

    `from_scratch` rebuilds every one of them without Docker's layer cache (cold build times).
    """
    built: dict[str, lock.LockedImage] = {}
    for spec in build_order(specs, names):
        with step(f"image {spec.name}"):
            started = time.monotonic()
            if spec.base == DEBIAN_BASE:
                base_reference = dockerd.ensure_base_image()
            else:
                base_reference = built[spec.base].reference
            builder = built[spec.builder].reference if spec.builder else None
            job = plan(spec, base_reference, builder)
            outcome = ensure_image(
                job, low_priority=low_priority, from_scratch=from_scratch, pull=pull
            )
            if job.alias:
                docker.tag(job.reference, job.alias)
            image_id = docker.image_id(job.reference) or ""
            entry = lock.LockedImage(spec.repository, job.tag, job.content_hash, image_id)
            built[spec.name] = lock.update(spec.name, entry)
            size = docker.megabytes(docker.image_size(job.reference))
            elapsed = time.monotonic() - started
            say(f"    {job.reference}: {outcome} in {elapsed:.1f} s, {size}")
    return built


@dataclass(frozen=True)
class LocalImage:
    """An image built from a context its caller stages: the kind node image and the images it
    preloads. Hashed, labelled and locked like an images.toml image.

    `files`, `build_args` and `pins` are its inputs. `pins` are versions.toml values that name
    what the caller stages besides `files` (binaries built at those versions): hashed, not passed
    to the build. `tag` None tags the image with its content hash; a fixed tag is for names that
    others expect (kubeadm's `registry.k8s.io/...` images).
    """

    name: str
    repository: str
    files: Mapping[str, Path]
    build_args: Mapping[str, str]
    base_reference: str
    pins: Mapping[str, str] = field(default_factory=dict)
    tag: str | None = None

    def content_hash(self) -> str:
        base_id = docker.image_id(self.base_reference)
        if base_id is None:
            raise BuildError(f"{self.name}: its base image {self.base_reference} is not in Docker")
        hashed_args = {**self.build_args, **{f"pin:{k}": v for k, v in self.pins.items()}}
        return content.content_hash(self.files, hashed_args, base_id)

    def reference(self, content_hash: str) -> str:
        return f"{self.repository}:{self.tag or content.tag_for(content_hash)}"


def ensure_local_image(
    image: LocalImage, stage: Callable[[Path], None], lock_path: Path
) -> tuple[lock.LockedImage, bool]:
    """Build `image` unless Docker has it from the same inputs; record it in `lock_path`.

    `stage` writes the build context into the folder it is given. Returns the lock entry and
    whether the image was built now.
    """
    full_hash = image.content_hash()
    reference = image.reference(full_hash)
    built = not up_to_date(reference, full_hash)
    if built:
        log = log_file(image.name)
        log.write_text("")
        say(f"    building {reference} (log: {log})")
        # In the cache, so that a stage can hard-link large files from it.
        with tempfile.TemporaryDirectory(prefix=f"image-{image.name}-", dir=cache_dir()) as tmp:
            stage(Path(tmp))
            args = {**image.build_args, "BASE_IMAGE": image.base_reference}
            command = ["docker", "build", "--network", "host", "--tag", reference]
            command += ["--label", f"{CONTENT_HASH_LABEL}={full_hash}"]
            for key, value in args.items():
                command += ["--build-arg", f"{key}={value}"]
            try:
                run([*command, tmp], log=log)
            except RunError as error:
                raise BuildError(f"{image.name} did not build: {error}") from error
    tag = reference.rpartition(":")[2]
    entry = lock.LockedImage(image.repository, tag, full_hash, docker.image_id(reference) or "")
    return lock.update(image.name, entry, lock_path), built
