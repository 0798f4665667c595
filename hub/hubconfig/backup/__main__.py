"""`python -m hubconfig.backup create FILE` / `restore [--force] FILE`; FILE `-` is stdout/stdin.

Works on the database of the hub whose environment this is (the chart's hub container), and
prints one line, never a traceback, when it cannot.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from hubconfig import values
from hubconfig.backup.engines import create, restore
from hubconfig.backup.errors import BackupError
from hubconfig.backup.seal import seal, unseal
from hubconfig.config import hub_database_url

# The hub's crypt key (hub.crypt-key of its Secret), which seals backups.
CRYPT_KEY_ENV = "JUPYTERHUB_CRYPT_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hubconfig.backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create_command = commands.add_parser("create", help="write a backup of the hub database")
    create_command.add_argument("file", help="where to write it; - for stdout")
    restore_command = commands.add_parser("restore", help="restore the hub database")
    restore_command.add_argument("file", help="the backup to restore; - for stdin")
    restore_command.add_argument(
        "--force", action="store_true", help="replace the tables of a database that has some"
    )
    return parser


def _open(stack: ExitStack, name: str, mode: str, standard: BinaryIO) -> BinaryIO:
    if name != "-":
        return stack.enter_context(Path(name).open(mode))
    if standard.isatty():
        raise BackupError("a backup is binary: redirect it from or to a file, not a terminal")
    return standard


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> int:
    """Run the command; 0 when done, 1 when it could not be done, 2 without the hub's settings."""
    arguments = _parser().parse_args(argv)
    try:
        url = hub_database_url(environ)
    except values.ValuesError as error:
        print(f"hubconfig.backup: {error}", file=sys.stderr)
        return 2
    crypt_key = environ.get(CRYPT_KEY_ENV, "")
    if not crypt_key:
        print(f"hubconfig.backup: the hub's environment lacks {CRYPT_KEY_ENV}", file=sys.stderr)
        return 2
    try:
        with ExitStack() as stack:
            archive = stack.enter_context(tempfile.TemporaryFile(prefix="hub-backup-"))
            if arguments.command == "create":
                out = _open(stack, arguments.file, "wb", stdout or sys.stdout.buffer)
                create(url, archive)
                seal(archive, out, crypt_key)
                out.flush()
            else:
                backup = _open(stack, arguments.file, "rb", stdin or sys.stdin.buffer)
                unseal(backup, archive, crypt_key)
                archive.seek(0)
                restore(url, archive, force=arguments.force)
                print("restored; restart the hub so that it reads it", file=sys.stderr)
    except (BackupError, OSError) as error:
        print(f"hubconfig.backup: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
