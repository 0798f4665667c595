"""Backup and restore of the hub database, JupyterHub's tables and multilogin's alike.

One command for both engines, run in the hub's container (it knows the database, the password
comes from the hub's environment):

    kubectl exec deploy/<release>-jupyterhub-k8s-hub -- \
        python -m hubconfig.backup create - > hub-backup
    kubectl exec -i deploy/<release>-jupyterhub-k8s-hub -- \
        python -m hubconfig.backup restore --force - < hub-backup

The engines' archive is a SQLite database file (made with SQLite's online backup API, so the
hub may keep running) or a pg_dump archive (`--format=custom`); the command writes it behind a
seal under the hub's crypt key (hubconfig.backup.seal) and restores only sealed archives. A
restore checks the archive first (a SQLite file must pass `PRAGMA integrity_check`, a pg_dump
archive must list, and either must hold JupyterHub's `alembic_version` table) and refuses a
database that has tables unless it is forced.
"""

from hubconfig.backup.engines import create, restore
from hubconfig.backup.errors import BackupError

__all__ = ["BackupError", "create", "restore"]
