"""A home folder whose NSS database trusts the run's CA: Chromium's own trust, not a bypass.

Chromium on Linux adds the trust anchors of the user's NSS database (`$HOME/.pki/nssdb`) to its
root store, so a browser started with `HOME` set to this folder accepts the run's certificates
and still refuses every other untrusted, expired or misnamed one. Made with NSS's `certutil`
(Debian: libnss3-tools); nothing of the real user's profile or the system's store changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from devenv.tls import CA_NAME, RunCA
from tools.bootstrap import prerequisites
from tools.bootstrap.run import run


def nss_database(home: Path) -> Path:
    return home / ".pki" / "nssdb"


def trusting_home(ca: RunCA, home: Path | None = None) -> Path:
    """A home folder (default: `chromium-home` beside the CA) whose NSS database trusts `ca`
    for TLS servers; made again every call, so it never holds a previous run's CA."""
    prerequisites.ensure(["certutil"])
    home = home or ca.folder / "chromium-home"
    database = nss_database(home)
    shutil.rmtree(database, ignore_errors=True)
    database.mkdir(parents=True)
    store = f"sql:{database}"
    run(["certutil", "-N", "-d", store, "--empty-password"])
    # "C,,": a trusted CA for TLS servers only (not for e-mail or code signing).
    run(["certutil", "-A", "-d", store, "-n", CA_NAME, "-t", "C,,", "-i", ca.ca_file])
    return home
