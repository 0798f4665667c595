"""`python -m tools.images {build,status,verify,pin,push}` from the repo root: images/README.md."""

from __future__ import annotations

import argparse
import sys

from tools import docker
from tools.bootstrap import dockerd
from tools.bootstrap.run import RunError
from tools.images import build, lock, pins, registry, spec


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m tools.images", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)
    for name, text in (
        ("build", "build the images whose inputs changed (default: every default image)"),
        ("status", "show each image's tag and whether Docker has it; builds nothing"),
        ("verify", "check that the lock file's entries match `docker images`"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("names", nargs="*", metavar="NAME")
        command.add_argument("--all", action="store_true", help="include non-default images")
        if name == "build":
            command.add_argument(
                "--low-priority", action="store_true", help="lower the CPU weight of builds"
            )
            command.add_argument(
                "--registry", help="pull images already pushed there by hash instead of building"
            )
            command.add_argument(
                "--from-scratch",
                action="store_true",
                help="rebuild without Docker's layer cache, even if built (cold build times)",
            )
    commands.add_parser("prune", help="remove hash tags of our images that the lock does not name")
    pin = commands.add_parser("pin", help="resolve images/NAME/requirements.in into exact pins")
    pin.add_argument("names", nargs="+", metavar="NAME")
    pin.add_argument(
        "--upgrade",
        action="store_true",
        help="re-resolve every package to the newest allowed (default: keep the current pins)",
    )
    push = commands.add_parser("push", help="push built images and record their digests")
    push.add_argument("--registry", required=True, help="e.g. registry.example/org")
    push.add_argument("--all", action="store_true", help="include non-default images")
    push.add_argument("names", nargs="*", metavar="NAME")
    return main


def run_build(args: argparse.Namespace, specs: dict[str, spec.ImageSpec]) -> int:
    names = spec.select(specs, args.names, everything=args.all)
    pull = registry.puller(args.registry) if args.registry else None
    build.build(
        specs, names, low_priority=args.low_priority, from_scratch=args.from_scratch, pull=pull
    )
    return 0


def run_status(args: argparse.Namespace, specs: dict[str, spec.ImageSpec]) -> int:
    """Tags as they would be now; a base not built yet leaves its dependents unknown."""
    names = spec.select(specs, args.names, everything=args.all)
    references: dict[str, str] = {}
    for image in spec.build_order(specs, names):
        if image.base == spec.DEBIAN_BASE:
            base = dockerd.base_image()
        elif image.base in references:
            base = references[image.base]
        else:
            print(f"{image.name:26} ?             base {image.base} is not built")
            continue
        if docker.image_id(base) is None:
            print(f"{image.name:26} ?             base {base} is not in Docker")
            continue
        job = build.plan(image, base)
        present = docker.image_id(job.reference) is not None
        if present:
            references[image.name] = job.reference
        print(f"{image.name:26} {job.tag}  {'built' if present else 'to build'}")
    return 0


def run_verify(args: argparse.Namespace, specs: dict[str, spec.ImageSpec]) -> int:
    names = spec.select(specs, args.names, everything=args.all)
    entries = lock.read()
    missing = [name for name in names if name not in entries]
    for name in missing:
        print(f"{name}: not in {lock.LOCK_FILE.name}; build it", file=sys.stderr)
    entries = {name: entry for name, entry in entries.items() if name in names}
    ids = {entry.reference: docker.image_id(entry.reference) for entry in entries.values()}
    problems = lock.mismatches(entries, ids)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems or missing:
        return 1
    print(f"{len(entries)} locked images match Docker")
    return 0


def run_prune(specs: dict[str, spec.ImageSpec]) -> int:
    repositories = {image.repository for image in specs.values()}
    present = [ref for repository in repositories for ref in docker.references(repository)]
    for reference in lock.stale(lock.read(), present, repositories):
        docker.remove(reference)
        print(f"removed {reference}")
    return 0


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        specs = spec.load()
        if args.command == "build":
            return run_build(args, specs)
        if args.command == "status":
            return run_status(args, specs)
        if args.command == "verify":
            return run_verify(args, specs)
        if args.command == "prune":
            return run_prune(specs)
        if args.command == "pin":
            for image in spec.build_order(specs, args.names):
                if image.name in args.names:
                    print(pins.pin(image, specs, upgrade=args.upgrade))
            return 0
        registry.push(args.registry, spec.select(specs, args.names, everything=args.all))
        return 0
    except (
        spec.SpecError,
        lock.LockError,
        build.BuildError,
        pins.PinError,
        registry.RegistryError,
        dockerd.DockerError,
        RunError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
