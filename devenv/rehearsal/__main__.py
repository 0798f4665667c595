"""`python -m devenv.rehearsal up [VERSION] | status | down` (devenv/README.md, "The production
rehearsal"). VERSION: a release made here before (dist/releases/VERSION); without it, `up`
releases the working tree first."""

from __future__ import annotations

import sys

from devenv import cluster, commands, dev_env
from devenv.rehearsal import environment, releases, steps
from tools.bootstrap import prerequisites
from tools.images import build, spec
from tools.release.release import RegistryPathError, ReleaseRefused
from tools.release.version import VersionError, parse

ERRORS = (
    dev_env.DevEnvError,
    cluster.ClusterError,
    releases.RehearsalReleaseError,
    ReleaseRefused,
    RegistryPathError,
    build.BuildError,
    spec.SpecError,
    prerequisites.MissingPrerequisites,
)


def main(argv: list[str]) -> int:
    env = environment.current()
    version = None
    if argv[:1] == ["up"] and len(argv) == 2:
        try:
            version = parse(argv.pop())
        except VersionError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    verbs = {
        "up": lambda: steps.up(env, version),
        "status": lambda: steps.status(env),
        "down": lambda: steps.down(env),
    }
    return commands.main("devenv.rehearsal", verbs, argv, ERRORS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
