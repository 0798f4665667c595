"""Run a command, the one way the project's tools do: one function for commands whose output is
wanted, one for yes/no probes, and one error that carries what a person needs to act on a failure.

Modelled on kind's pkg/exec: a failed command raises `RunError` with the command, the tail of its
output and, when the run was logged, the log file holding all of it. Standard library only (the
bootstrap runs before any dependency is installed).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
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
        returncode: int | None = None,
    ) -> None:
        self.command = tuple(command)
        self.reason = reason
        self.returncode = returncode
        """The exit status; None when the command did not start or did not finish."""
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

    With `log`, the command line, its standard error (as it happens, so a long build can be
    followed) and its standard output are appended to that file.
    """
    argv = [str(part) for part in command]
    if log is not None:
        with log.open("a") as handle:
            handle.write(f"$ {' '.join(argv)}\n")
    with log.open("a") if log is not None else nullcontext() as stderr:
        try:
            result = subprocess.run(
                argv,
                input=stdin,
                stdout=subprocess.PIPE,
                stderr=stderr if stderr is not None else subprocess.PIPE,
                text=True,
                timeout=timeout,
                cwd=cwd,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            _append(log, _text(error.stdout))
            output = _tail(log) if log is not None else _text(error.stdout) + _text(error.stderr)
            raise RunError(argv, f"did not finish within {timeout:.0f} s", output, log) from None
        except OSError as error:
            raise RunError(argv, f"could not start: {error}", "", log) from None
    _append(log, result.stdout)
    if result.returncode != 0:
        output = _tail(log) if log is not None else result.stdout + result.stderr
        raise RunError(
            argv, f"failed with exit status {result.returncode}", output, log, result.returncode
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


def _tail(log: Path | None) -> str:
    if log is None:
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-OUTPUT_TAIL_LINES:])


def _append(log: Path | None, output: str) -> None:
    if log is not None and output:
        with log.open("a") as handle:
            handle.write(output if output.endswith("\n") else output + "\n")
