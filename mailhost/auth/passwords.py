"""Password hashing for new accounts and verification of hashes imported from Dovecot.

New hashes are always argon2id with the OWASP minimum parameters. Verification also accepts
the schemes ``doveadm pw`` produces for Dovecot installations (``{SHA512-CRYPT}``,
``{BLF-CRYPT}``, ``{ARGON2ID}``), with or without the ``{SCHEME}`` prefix, so a mailbox can be
migrated without resetting passwords; :func:`needs_rehash` then tells the caller to replace
such a hash with argon2id after the next successful login.

Every comparison is constant-time: argon2-cffi compares inside the reference C library,
libpass's ``verify`` uses its ``consteq`` and bcrypt's ``checkpw`` compares in constant time in
Rust. Passwords are used exactly as given (no Unicode normalisation), because imported hashes
were computed over the raw UTF-8 bytes.
"""

from __future__ import annotations

import bcrypt
import passlib.hash
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

MAX_PASSWORD_BYTES = 1024
"""Longest accepted password in UTF-8 bytes; bounds the work an unauthenticated client causes."""

BCRYPT_MAX_BYTES = 72
"""bcrypt only ever reads the first 72 bytes; Dovecot's crypt_blowfish silently truncated."""

_ARGON2_TIME_COST = 2
_ARGON2_MEMORY_KIB = 19456
_ARGON2_PARALLELISM = 1
_ARGON2_HASH_BYTES = 32
_ARGON2_SALT_BYTES = 16
_ARGON2_VERSION = 19

_HASHER = PasswordHasher(
    time_cost=_ARGON2_TIME_COST,
    memory_cost=_ARGON2_MEMORY_KIB,
    parallelism=_ARGON2_PARALLELISM,
    hash_len=_ARGON2_HASH_BYTES,
    salt_len=_ARGON2_SALT_BYTES,
    type=Type.ID,
)

_ARGON2ID_PREFIX = "$argon2id$"
_SHA512_CRYPT_PREFIX = "$6$"
_BCRYPT_PREFIXES = ("$2y$", "$2b$", "$2a$")

_DOVECOT_SCHEME_PREFIXES = {
    "{ARGON2ID}": (_ARGON2ID_PREFIX,),
    "{SHA512-CRYPT}": (_SHA512_CRYPT_PREFIX,),
    "{BLF-CRYPT}": _BCRYPT_PREFIXES,
}


class PasswordTooLong(ValueError):
    """The password exceeds MAX_PASSWORD_BYTES; refused before any expensive hashing."""


def _password_bytes(password: str) -> bytes:
    """Encode for hashing, refusing oversized input before the costly algorithm runs."""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise PasswordTooLong(f"password is longer than {MAX_PASSWORD_BYTES} bytes")
    return encoded


def _strip_dovecot_prefix(stored: str) -> str | None:
    """Return the bare crypt string, or None when a ``{SCHEME}`` prefix does not match it."""
    if not stored.startswith("{"):
        return stored
    for scheme, crypt_prefixes in _DOVECOT_SCHEME_PREFIXES.items():
        candidate = stored[: len(scheme)]
        if candidate.isascii() and candidate.upper() == scheme:
            bare = stored[len(scheme) :]
            return bare if bare.startswith(crypt_prefixes) else None
    return None


def hash_password(password: str) -> str:
    """Hash a new password as argon2id (m=19456 KiB, t=2, p=1) in PHC string format.

    Raises PasswordTooLong, or UnicodeEncodeError for a string holding lone surrogates.
    """
    return _HASHER.hash(_password_bytes(password))


def verify_password(stored: str, password: str) -> bool:
    """Check ``password`` against ``stored``; False (never an exception) for bad or unknown hashes.

    Raises PasswordTooLong for an oversized password so the caller can refuse it outright.
    """
    try:
        secret = _password_bytes(password)
    except UnicodeEncodeError:
        return False
    bare = _strip_dovecot_prefix(stored)
    if bare is None:
        return False
    try:
        if bare.startswith(_ARGON2ID_PREFIX):
            return _HASHER.verify(bare, secret)
        if bare.startswith(_SHA512_CRYPT_PREFIX):
            return bool(passlib.hash.sha512_crypt.verify(secret, bare))
        if bare.startswith(_BCRYPT_PREFIXES):
            return bcrypt.checkpw(secret[:BCRYPT_MAX_BYTES], bare.encode("ascii"))
    except (VerificationError, InvalidHashError, ValueError, TypeError):
        return False
    return False


def _argon2id_is_weaker(bare: str) -> bool:
    """True when any cost or length parameter is below what hash_password produces today."""
    params = extract_parameters(bare)
    return (
        params.type is not Type.ID
        or params.version < _ARGON2_VERSION
        or params.memory_cost < _ARGON2_MEMORY_KIB
        or params.time_cost < _ARGON2_TIME_COST
        or params.hash_len < _ARGON2_HASH_BYTES
        or params.salt_len < _ARGON2_SALT_BYTES
    )


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` should be replaced by hash_password() after a successful login.

    Imported schemes always qualify; argon2id only when weaker than the current parameters
    (a stronger hash is kept, so raising the parameters later never downgrades anyone).
    """
    bare = _strip_dovecot_prefix(stored)
    if bare is None or not bare.startswith(_ARGON2ID_PREFIX):
        return True
    try:
        return _argon2id_is_weaker(bare)
    except InvalidHashError:
        return True
