"""The one runner: output on success, and on failure an error with the command, the tail of its
output and the log that holds all of it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tools.bootstrap import run as runner
from tools.bootstrap.run import RunError, run, succeeds

PYTHON = sys.executable


def test_returns_standard_output() -> None:
    assert run([PYTHON, "-c", "print('hello')"]) == "hello\n"


def test_a_failure_carries_the_command_its_status_and_its_output() -> None:
    with pytest.raises(RunError) as failed:
        run([PYTHON, "-c", "import sys; print('out'); sys.exit('went wrong')"])
    error = failed.value
    assert error.command[0] == PYTHON
    assert error.returncode == 1
    assert "went wrong" in error.output_tail
    assert "out" in error.output_tail
    assert "exit status 1" in str(error)
    assert "went wrong" in str(error)


def test_a_logged_run_keeps_everything_in_the_log_and_names_it(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    script = "import sys; print('to stdout'); print('to stderr', file=sys.stderr); sys.exit(3)"
    with pytest.raises(RunError) as failed:
        run([PYTHON, "-c", script], log=log)
    text = log.read_text()
    assert "to stdout" in text
    assert "to stderr" in text
    assert text.startswith(f"$ {PYTHON} -c")
    assert failed.value.log == log
    assert str(log) in str(failed.value)
    assert "to stderr" in failed.value.output_tail


def test_the_tail_is_the_last_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "OUTPUT_TAIL_LINES", 2)
    with pytest.raises(RunError) as failed:
        run([PYTHON, "-c", "import sys; [print(i) for i in range(10)]; sys.exit(1)"])
    assert failed.value.output_tail.splitlines() == ["8", "9"]


def test_a_missing_program_and_a_timeout_are_run_errors_without_a_status() -> None:
    with pytest.raises(RunError, match="could not start") as missing:
        run(["/nonexistent/program"])
    assert missing.value.returncode is None
    with pytest.raises(RunError, match="did not finish within 1 s") as slow:
        run([PYTHON, "-c", "import time; time.sleep(30)"], timeout=1)
    assert slow.value.returncode is None


def test_stdin_is_passed() -> None:
    assert run([PYTHON, "-c", "import sys; print(sys.stdin.read().upper())"], stdin="abc") == (
        "ABC\n"
    )


def test_succeeds_is_the_exit_status() -> None:
    assert succeeds([PYTHON, "-c", "pass"])
    assert not succeeds([PYTHON, "-c", "raise SystemExit(2)"])
