"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendation)."""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

# The test suite creates thousands of accounts and signs in as many times: with LINLI_TEST_FAST_PASSWORD_HASHING=1
# (tests/__init__.py sets it) hashing uses argon2-cffi's profile made for tests, a thousand times cheaper. Never in
# production: such hashes are easy to crack. A hash made that way is replaced at the next sign-in without it.
_FAST_FOR_TESTS = os.environ.get("LINLI_TEST_FAST_PASSWORD_HASHING") == "1"
_hasher = PasswordHasher.from_parameters(profiles.CHEAPEST) if _FAST_FOR_TESTS else PasswordHasher()
# Verifying against this when the account does not exist keeps the timing of both answers alike.
_DUMMY_HASH = _hasher.hash("linli-dummy-password")


async def hash_password(password: str) -> str:
    # Hashing takes tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
