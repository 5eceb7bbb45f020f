"""Password hashes: argon2id (memory-hard) via argon2-cffi, behind three functions.

    stored = hash_password("correct horse battery staple")
    ok, upgrade = check_password(stored, attempt)   # upgrade: parameters have aged

The parameters are argon2-cffi's defaults, RFC 9106's low-memory profile (t=3, 64 MiB,
p=4; about 0.1 s on a 2-core server). When they change, `check_password` says so and the
sign-in rehashes, as Django's `must_update` does. An unknown username still costs one
verification (`burn_time`), so timing does not tell which usernames exist.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; this only bounds the work one request asks for

_HASHER = PasswordHasher()


def _normal(password: str) -> str:
    # The same password typed on two keyboards (composed or decomposed accents) is one.
    return unicodedata.normalize("NFKC", password)


def password_problem(password: str, *, username: str = "") -> str | None:
    """What is wrong with a new password, in words a person reads; None if it will do."""
    text = _normal(password or "")
    if len(text) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters long."
    if len(text) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters long."
    if len(set(text)) < 4:
        return "The password needs more than a few distinct characters."
    if username and username.casefold() in text.casefold():
        return "The password must not contain the username."
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(_normal(password))


def check_password(stored: str | None, password: str) -> tuple[bool, bool]:
    """(matches, should be rehashed). A missing or malformed hash never matches."""
    if not stored or len(password) > 4 * MAX_LENGTH:
        burn_time()
        return False, False
    try:
        _HASHER.verify(stored, _normal(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _HASHER.check_needs_rehash(stored)


@cache
def _dummy_hash() -> str:
    return _HASHER.hash("no such user: this hash only spends the time a real check would")


def burn_time() -> None:
    """Spend what checking a real password costs (for a username that matches nobody)."""
    try:
        _HASHER.verify(_dummy_hash(), "not the password")
    except VerificationError:
        pass
