"""Password hashing with Argon2 (pwdlib). Verification is constant time; outdated hashes are upgraded."""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the user does not exist, so that an unknown username takes as long as a wrong password.
_dummy_hash: str | None = None


def configure_password_hashing(*, time_cost: int = 3, memory_kib: int = 65536) -> None:
    """Set the Argon2 parameters for new hashes. Hashes made with other parameters still verify and are
    upgraded at the next successful login."""
    global _hasher, _dummy_hash
    _hasher = PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))
    _dummy_hash = None


def hash_password(password: str) -> str:
    """The Argon2 hash of ``password``, with a random salt."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed`` (constant time). A malformed hash never matches."""
    return verify_and_update(password, hashed)[0]


def verify_and_update(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """``(matches, new_hash)``: ``new_hash`` is set when the hash's parameters are outdated.

    With ``hashed=None`` (no such user) a dummy hash is verified, so that the caller takes the same time.
    """
    global _dummy_hash
    if hashed is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("fastmango-dummy-password")
        _hasher.verify(password, _dummy_hash)
        return False, None
    try:
        return _hasher.verify_and_update(password, hashed)
    except Exception:  # an unknown or corrupt hash format: never a match, never a crash
        return False, None
