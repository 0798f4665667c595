"""The Secret that `hub.existingSecret` names, made by the tooling so that no secret is a value.

The hub's chart reads `proxy.token`, `hub.cookie-secret`, `hub.crypt-key` and, for an external
database, `hub.db-password` from it; the dev services chart's PostgreSQL reads the same
`hub.db-password` (devenv/services/chart/templates/postgresql.yaml), so hub and database share one
password that no values file holds. `ensure` creates the Secret once and then keeps it: new tokens
would end every session, make encrypted auth state unreadable and lock the hub out of a database
whose password was set on its first start.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from tools.kube import Kubectl, secret

KEYS = ("proxy.token", "hub.cookie-secret", "hub.crypt-key", "hub.db-password")


def manifest(name: str) -> dict[str, Any]:
    """A Secret `name` with a fresh 64-hex-digit value for each of KEYS."""
    return secret(
        name,
        {key: secrets.token_hex(32) for key in KEYS},
        labels={
            "app.kubernetes.io/name": "jupyterhub-k8s",
            "app.kubernetes.io/component": "hub-secret",
            "app.kubernetes.io/managed-by": "devenv",
        },
    )


def ensure(kubectl: Kubectl, name: str) -> bool:
    """Create the Secret `name` in kubectl's namespace unless it exists; whether it was created."""
    if kubectl("get", "secret", name, "--ignore-not-found", "-o", "name").strip():
        return False
    # create, not apply: should another run have made it meanwhile, this fails instead of
    # replacing its tokens.
    kubectl("create", "-f", "-", stdin=json.dumps(manifest(name)))
    return True
