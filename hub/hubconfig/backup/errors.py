"""The one error of backups and restores: its message is the one line the command prints."""


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason in words."""
