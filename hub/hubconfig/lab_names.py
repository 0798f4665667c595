"""Kubernetes names of a user's lab (pod, home claim): the username unchanged, never a hash.

KubeSpawner's 'safe' slugs keep a name that is already valid as it is, but replace any other (one
starting with a digit, or longer than 48 characters) by a 37-character prefix and 8 hex digits of
its SHA-256. Two names sharing that prefix then collide after about 2**16 tries, and a name can be
found for a given user's slug in about 2**32, so a person who can choose a username could mount
someone else's home. Here the hub only starts labs for usernames in USERNAME_PATTERN, which are
valid in Kubernetes names as they are, and puts them into the names unchanged.
"""

from __future__ import annotations

import re

from hubconfig.refusals import forbidden

# The same default as the authenticator's `username_pattern` (authenticators/): lowercase ASCII
# letters and digits with single hyphens inside, 1-63 characters. Without `--` in a username, the
# first `--` of a pod name ends the username, so no named server can take another user's name.
USERNAME_PATTERN = r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$"

# KubeSpawner fields: `unescaped_username` is the username as is; with the 'safe' slug scheme
# `servername` is the server name as is for every name JupyterHub 6 lets users create (1-30
# lowercase letters, digits, single hyphens). KubeSpawner strips the trailing `--` of a default
# server's pod name (usernames never end with `-`). Names stay below the 253 characters Kubernetes
# allows for pod and claim names.
POD_NAME_TEMPLATE = "jupyter-{unescaped_username}--{servername}"
# Home claims (`singleuser.storage.dynamic.pvcNameTemplate`, values.schema.json) are
# `claim-{unescaped_username}` or `claim-{unescaped_username}--{servername}`, by the same reasoning:
# the first `--` ends the username, and a default server's trailing `--` is stripped.

_USERNAME = re.compile(USERNAME_PATTERN)


def check_username(username: str) -> None:
    """Refuse (403) to start a lab for a username that cannot be used in its names unchanged.

    The authenticator admits only such names; administrators can still create any name through
    the REST API, and such an account gets this message instead of a hashed, collidable name.
    """
    if not _USERNAME.fullmatch(username):
        raise forbidden(
            f"The account {username!r} cannot have a lab on this hub: its name is used in the "
            "lab's Kubernetes names, so it must be 1-63 lowercase letters a-z, digits and single "
            "hyphens between them (like jdoe or anna-maria). Ask the hub's administrators to "
            "rename the account."
        )
