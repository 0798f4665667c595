"""stop_managed_daemon against a stand-in daemon: a child of this process that exits on SIGTERM
and stays a zombie, as the dockerd that `nox -s dev` starts does (nox never reaps it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.bootstrap import dockerd
from tools.bootstrap.processes import process_running

EXITS_ON_SIGTERM = "signal.signal(signal.SIGTERM, lambda *_: exit(0))"
IGNORES_SIGTERM = "signal.signal(signal.SIGTERM, signal.SIG_IGN)"


@pytest.fixture
def stand_in_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[subprocess.Popen[bytes]]:
    # The child prints once its handler is set, so SIGTERM never meets Python's default.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import signal, time; {request.param}; print(flush=True); time.sleep(300)",
        ],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    child.stdout.readline()
    pidfile = tmp_path / "docker.pid"
    pidfile.write_text(f"{child.pid}\n")
    monkeypatch.setattr(dockerd, "DOCKERD_PIDFILE", pidfile)
    monkeypatch.setattr(dockerd, "DAEMON_STOP_TIMEOUT_S", 3)
    yield child
    child.kill()
    child.wait()


@pytest.mark.parametrize("stand_in_daemon", [EXITS_ON_SIGTERM], indirect=True, ids=["exits"])
def test_a_daemon_that_exited_unreaped_counts_as_stopped(
    stand_in_daemon: subprocess.Popen[bytes],
) -> None:
    dockerd.stop_managed_daemon()

    assert not process_running(stand_in_daemon.pid)
    assert stand_in_daemon.poll() == 0


@pytest.mark.parametrize("stand_in_daemon", [IGNORES_SIGTERM], indirect=True, ids=["ignores"])
def test_a_daemon_that_does_not_stop_is_an_error(stand_in_daemon: subprocess.Popen[bytes]) -> None:
    with pytest.raises(
        dockerd.DockerError, match=f"dockerd \\(pid {stand_in_daemon.pid}\\) still runs"
    ):
        dockerd.stop_managed_daemon()

    assert process_running(stand_in_daemon.pid)


def test_a_pid_without_a_process_is_not_running() -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()

    assert not process_running(finished.pid)
