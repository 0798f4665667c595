"""A real `jupyterhub` process given a consumer secret that cannot be right through its
environment: it stops with one line naming the setting and the variable, no traceback, and the
secret appears nowhere in what it printed."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

import multilogin

pytestmark = pytest.mark.integration

SECRET = "campus-moodle-secret-7f3a"
CONFIG = """
c.JupyterHub.authenticator_class = "multilogin"
c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
c.MultiLoginAuthenticator.enable_keycloak = False
c.MultiLoginAuthenticator.enable_lti13 = False
c.LTI11Login.consumer_secret_env = {"moodle": "MOODLE_LTI11_SECRET"}
c.LTI11Login.consumer_trust = {"moodle": {"unlinked_identities": "separate-account"}}
"""


def test_the_hub_stops_in_one_line_without_the_secret(tmp_path: Path) -> None:
    (tmp_path / "jupyterhub_config.py").write_text(CONFIG)
    environment = {
        **os.environ,
        # The multilogin under test, whatever the working directory (the hub runs in tmp_path).
        "PYTHONPATH": str(Path(multilogin.__file__).resolve().parents[1]),
        "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
        # As `kubectl create secret --from-file` stores a file that ends with a newline.
        "MOODLE_LTI11_SECRET": SECRET + "\n",
    }
    result = subprocess.run(
        [sys.executable, "-m", "jupyterhub", "--debug"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    # With --debug, JupyterHub logs its exit after the line.
    assert (
        "multilogin: LTI11Login.consumer_secret_env['moodle']: the environment variable "
        "MOODLE_LTI11_SECRET has leading or trailing whitespace or a control character (a file's "
        "final newline?); the secret would never match"
    ) in result.stderr.splitlines()
    assert "Traceback" not in output
    assert SECRET not in output
