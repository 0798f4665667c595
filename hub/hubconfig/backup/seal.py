"""A backup's seal: an HMAC of the archive under the hub's crypt key (`hub.crypt-key`), so that a
restore takes only what a hub holding that key wrote.

The engines' checks read what an archive says it holds, not what it runs: pg_restore executes the
SQL of each entry whatever type the entry is labelled with, so an archive altered or crafted
outside the hub could pass the list of allowed entries and run code in the database. A backup
already depends on the crypt key (auth state is encrypted with it), so sealing with it adds no
secret to keep.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
from typing import BinaryIO

from hubconfig.backup.errors import BackupError

HEADER = b"jupyterhub-k8s hub backup 1\n"
SEAL_LINE = 64 + 1  # the hex SHA-256 and its newline
# The seal's key is derived from the crypt key, never the crypt key itself.
CONTEXT = b"hubconfig.backup seal 1"
CHUNK = 1 << 20


def _keys(crypt_key: str) -> list[bytes]:
    # JUPYTERHUB_CRYPT_KEY lists several keys (;-separated) while they are rotated, as in
    # JupyterHub: the first seals, any of them opens.
    found = [key.strip() for key in crypt_key.split(";") if key.strip()]
    if not found:
        raise BackupError(
            "JUPYTERHUB_CRYPT_KEY is empty: backups are sealed with the hub's crypt key "
            "(hub.crypt-key of the hub's Secret)"
        )
    return [hmac.new(key.encode(), CONTEXT, hashlib.sha256).digest() for key in found]


def seal(archive: BinaryIO, out: BinaryIO, crypt_key: str) -> None:
    """Write `archive` (read from its start) to `out`, behind its seal."""
    mac = hmac.new(_keys(crypt_key)[0], digestmod=hashlib.sha256)
    archive.seek(0)
    while chunk := archive.read(CHUNK):
        mac.update(chunk)
    out.write(HEADER + mac.hexdigest().encode() + b"\n")
    archive.seek(0)
    shutil.copyfileobj(archive, out, CHUNK)


def unseal(backup: BinaryIO, out: BinaryIO, crypt_key: str) -> None:
    """Copy the archive of the sealed `backup` to `out`; BackupError, before anything is
    restored, when the seal is missing or does not match."""
    if backup.read(len(HEADER)) != HEADER:
        raise BackupError(
            "the file is not a backup that `python -m hubconfig.backup create` made (it has no "
            "seal); only those are restored"
        )
    recorded = backup.read(SEAL_LINE)
    macs = [hmac.new(key, digestmod=hashlib.sha256) for key in _keys(crypt_key)]
    while chunk := backup.read(CHUNK):
        out.write(chunk)
        for mac in macs:
            mac.update(chunk)
    if not any(hmac.compare_digest(mac.hexdigest().encode() + b"\n", recorded) for mac in macs):
        raise BackupError(
            "the backup's seal does not match the hub's crypt key: the file was changed after it "
            "was made, or a hub with another hub.crypt-key made it"
        )
