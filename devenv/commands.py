"""The command line of devenv's modules: one verb per run, known errors as one line, timing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping

from devenv import cluster_config, node_image
from tools import gobuild
from tools.bootstrap import dockerd, prerequisites
from tools.bootstrap.paths import logs_dir
from tools.bootstrap.progress import say
from tools.bootstrap.run import RunError

# Errors that say what failed in their message: printed as one line, without a traceback.
KNOWN_ERRORS: tuple[type[Exception], ...] = (
    RunError,
    cluster_config.ClusterConfigError,
    node_image.NodeImageError,
    prerequisites.MissingPrerequisites,
    dockerd.DockerError,
    gobuild.GoBuildError,
)


def main(
    prog: str,
    commands: Mapping[str, Callable[[], None]],
    argv: list[str],
    errors: tuple[type[Exception], ...] = (),
) -> int:
    """Run the command `argv` names; 2 for a wrong command line, 1 for a known error."""
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m {prog} {'|'.join(commands)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        commands[argv[0]]()
    except (*errors, *KNOWN_ERRORS) as error:
        print(f"error: {error}\nfull logs: {logs_dir()}", file=sys.stderr)
        return 1
    say(f"{prog} {argv[0]}: done in {time.monotonic() - started:.1f} s")
    return 0
