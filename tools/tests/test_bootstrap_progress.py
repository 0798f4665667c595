"""Progress lines of a step run in a lane of its own, beside the main thread's."""

import threading

import pytest

from tools.bootstrap.progress import lane, say, step


def test_a_lane_prefixes_only_its_own_threads_lines(capsys: pytest.CaptureFixture[str]) -> None:
    def images() -> None:
        with lane("images"), step("image hub"):
            say("built")

    worker = threading.Thread(target=images)
    worker.start()
    worker.join()
    say("cluster line")
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == ["[images] ==> image hub", "[images] built"]
    assert lines[2].startswith("[images] <== image hub: done in ")
    assert lines[3] == "cluster line"
