"""Random identifiers and bearer secrets, and how secrets are kept (hashed)."""

from __future__ import annotations

import hashlib
import secrets


def new_id(prefix: str) -> str:
    """A random public identifier such as `c_3f9a…` (conversation) or `a_…` (agent)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def new_secret() -> str:
    """A bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What the store keeps of a secret: its SHA-256, enough to recognise it, useless if leaked."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
