"""Repository-wide pytest hooks."""

from __future__ import annotations

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # pytest exits with 5 when nothing was collected. That is a failure here (a wrong path, a
    # marker that matches nothing, a broken import), never a pass: say so instead of a bare code.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            "error: no tests were collected; check the paths and -m/-k selection. "
            "An empty run counts as a failure in this project."
        )
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
