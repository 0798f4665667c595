"""The platform's RS256 signing key and its JWKS, stable across restarts."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# The mock keeps its own state, so that it depends on nothing outside its package (its image holds
# only this package): `MOCK_MOODLE_STATE_DIR`, else the XDG state folder.
STATE_DIR_VARIABLE = "MOCK_MOODLE_STATE_DIR"


def state_dir() -> Path:
    override = os.environ.get(STATE_DIR_VARIABLE)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "mock-moodle"


def default_key_file() -> Path:
    return state_dir() / "lti13-signing-key.pem"


def generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def load_or_create(path: Path | None = None) -> rsa.RSAPrivateKey:
    """The key in `path`; with no path, the one generated once into the state folder."""
    if path is not None:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return key
    path = default_key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    return load_or_create(path)


def key_id(key: rsa.RSAPrivateKey) -> str:
    """A kid derived from the public key, so it changes exactly when the key does."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode().rstrip("=")


def jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The JSON Web Key Set a tool fetches to verify our id_tokens."""
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**public, "kid": key_id(key), "alg": "RS256", "use": "sig"}]}
