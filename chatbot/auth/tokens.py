"""Random secrets (session tokens, handoff and setup codes) and the digests we store.

The values are 256 bits from `secrets`; only their SHA-256 is kept, so a copy of the
database opens no session. A fast hash is right here: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())
