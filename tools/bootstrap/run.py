"""Run a command, the one way the project's tools do: one function for commands whose output is
wanted, one for yes/no probes, and one error that carries what a person needs to act on a failure.

Modelled on kind's pkg/exec: a failed command raises `RunError` with the command, the tail of its
output and, when the run was logged, the log file holding all of it. Standard library only (the
bootstrap runs before any dependency is installed).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

OUTPUT_TAIL_LINES = 25


class RunError(RuntimeError):
    """A command failed, could not start, or did not finish in time."""

    def __init__(
        self,
        command: Sequence[str],
        reason: str,
        output: str = "",
        log: Path | None = None,
    ) -> None:
        self.command = tuple(command)
        self.reason = reason
        self.output_tail = "\n".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
        self.log = log
        where = f" (log {log})" if log is not None else ""
        text = f"`{' '.join(self.command)}` {reason}{where}"
        super().__init__(f"{text}:\n{self.output_tail}" if self.output_tail else text)


def run(
    command: Sequence[str | Path],
    *,
    log: Path | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run `command` and return its standard output; raise `RunError` when it fails.

    With `log`, the command line and everything it printed are appended to that file.
    """
    argv = [str(part) for part in command]
    if log is not None:
        with log.open("a") as handle:
            handle.write(f"$ {' '.join(argv)}\n")
    try:
        result = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        output = _text(error.stdout) + _text(error.stderr)
        _append(log, output)
        raise RunError(argv, f"did not finish within {timeout:.0f} s", output, log) from None
    except OSError as error:
        raise RunError(argv, f"could not start: {error}", "", log) from None
    _append(log, result.stdout + result.stderr)
    if result.returncode != 0:
        raise RunError(
            argv, f"failed with exit status {result.returncode}", result.stdout + result.stderr, log
        )
    return result.stdout


def succeeds(command: Sequence[str | Path], *, timeout: float | None = None) -> bool:
    """Whether `command` exits with status 0 (its output is not wanted): a probe."""
    try:
        run(command, timeout=timeout)
    except RunError:
        return False
    return True


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _append(log: Path | None, output: str) -> None:
    if log is not None and output:
        with log.open("a") as handle:
            handle.write(output if output.endswith("\n") else output + "\n")
