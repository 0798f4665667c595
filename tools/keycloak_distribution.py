"""The Keycloak server distribution at the pinned version, fetched from Maven Central.

`org.keycloak:keycloak-quarkus-dist` (zip, `keycloak.version` in versions.toml) is fetched with
Maven's own client and unpacked into the cache, keyed by version. The keycloak image's build
copies it into its context (tools.images.fetch); the dev Keycloak runs it on this host
(devservices/dev_keycloak).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from tools.bootstrap import versions
from tools.bootstrap.paths import cache_dir
from tools.bootstrap.progress import step
from tools.bootstrap.run import run

ARTIFACT = "org.keycloak:keycloak-quarkus-dist"


class MavenMissing(RuntimeError):
    """Maven is needed to fetch the distribution and is not installed."""


def version() -> str:
    return versions.get("keycloak.version")


def home() -> Path:
    """Where the pinned distribution is unpacked (keyed by version, shared by clones)."""
    return cache_dir() / f"keycloak-{version()}"


def fetch() -> Path:
    """Unpack the pinned distribution into the cache, fetching it with Maven when needed."""
    target = home()
    if (target / "bin" / "kc.sh").is_file():
        return target
    if shutil.which("mvn") is None:
        raise MavenMissing(
            "Maven (`mvn`) is needed to fetch Keycloak from Maven Central; "
            "install it (Debian: apt-get install maven) and run again."
        )
    with step(f"fetch Keycloak {version()} with Maven"), tempfile.TemporaryDirectory() as tmp:
        run(
            [
                "mvn", "--batch-mode", "--quiet", "dependency:copy",
                f"-Dartifact={ARTIFACT}:{version()}:zip", f"-DoutputDirectory={tmp}",
            ]
        )  # fmt: skip
        (archive,) = Path(tmp).glob("*.zip")
        unpack(archive, target)
    return target


def unpack(archive: Path, target: Path) -> None:
    """Unpack the zip's single top folder as `target`, atomically, keeping scripts executable."""
    staging = Path(tempfile.mkdtemp(prefix="keycloak-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)
        (top,) = staging.iterdir()
        for script in (top / "bin").glob("*.sh"):
            script.chmod(0o755)
        top.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
