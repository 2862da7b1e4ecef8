"""Password hashing and verification against real hashes from every supported scheme."""

from __future__ import annotations

import argon2
import bcrypt
import passlib.hash
import pytest
from argon2.low_level import Type, hash_secret

from mailhost.auth.passwords import (
    MAX_PASSWORD_BYTES,
    PasswordTooLong,
    hash_password,
    needs_rehash,
    verify_password,
)

# Published test vectors, in the form `doveadm pw -s <SCHEME>` prints them.
# SHA512-CRYPT: Drepper's "Unix crypt using SHA-256 and SHA-512" specification.
SHA512_VECTOR_PASSWORD = "Hello world!"
SHA512_VECTOR = (
    "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4"
    "OTLiBFdcbYEdFCoEOfaS35inz1"
)
SHA512_ROUNDS_VECTOR = (
    "{SHA512-CRYPT}$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSn"
    "CM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
)
# BLF-CRYPT: the crypt_blowfish / OpenBSD vectors ("U*U"); Dovecot writes the $2y$ variant.
BLF_VECTOR_PASSWORD = "U*U"
BLF_VECTOR = "{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
BLF_LONG_VECTOR_PASSWORD = (
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "chars after 72 are ignored"
)
BLF_LONG_VECTOR = "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
# ARGON2ID: the phc-winner-argon2 reference test suite (password/somesalt, t=2, m=64 MiB, p=1).
ARGON2_VECTOR_PASSWORD = "password"
ARGON2_VECTOR = (
    "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ"
    "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
)

NON_ASCII_PASSWORDS = ["pässwörd", "пароль-секрет", "密码🔑", "e\u0301"]


def argon2id(password: str, *, memory_kib: int, time_cost: int, salt: bytes) -> str:
    """An argon2id hash with chosen parameters, straight from the reference implementation."""
    encoded = hash_secret(
        password.encode(),
        salt,
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
    )
    return encoded.decode("ascii")


@pytest.fixture(scope="module")
def hashed() -> str:
    return hash_password("correct horse battery staple")


def test_hash_password_is_argon2id_with_owasp_parameters(hashed: str) -> None:
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    params = argon2.extract_parameters(hashed)
    assert (params.salt_len, params.hash_len) == (16, 32)


def test_hash_password_salts_every_hash(hashed: str) -> None:
    assert hash_password("correct horse battery staple") != hashed


def test_verify_own_hash(hashed: str) -> None:
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapl")
    assert not verify_password(hashed, "Correct horse battery staple")


def test_new_hashes_do_not_need_rehash(hashed: str) -> None:
    assert not needs_rehash(hashed)


@pytest.mark.parametrize(
    ("stored", "password"),
    [
        (SHA512_VECTOR, SHA512_VECTOR_PASSWORD),
        (SHA512_VECTOR.removeprefix("{SHA512-CRYPT}"), SHA512_VECTOR_PASSWORD),
        (SHA512_ROUNDS_VECTOR, SHA512_VECTOR_PASSWORD),
        (BLF_VECTOR, BLF_VECTOR_PASSWORD),
        (BLF_VECTOR.removeprefix("{BLF-CRYPT}"), BLF_VECTOR_PASSWORD),
        (BLF_VECTOR.replace("$2y$", "$2a$"), BLF_VECTOR_PASSWORD),
        (BLF_VECTOR.replace("$2y$", "$2b$"), BLF_VECTOR_PASSWORD),
        (ARGON2_VECTOR, ARGON2_VECTOR_PASSWORD),
        (ARGON2_VECTOR.removeprefix("{ARGON2ID}"), ARGON2_VECTOR_PASSWORD),
        (ARGON2_VECTOR.replace("{ARGON2ID}", "{argon2id}"), ARGON2_VECTOR_PASSWORD),
    ],
)
def test_known_vectors_verify(stored: str, password: str) -> None:
    assert verify_password(stored, password)
    assert not verify_password(stored, password[:-1])


def test_bcrypt_uses_only_the_first_72_bytes_like_dovecot() -> None:
    assert verify_password(BLF_LONG_VECTOR, BLF_LONG_VECTOR_PASSWORD)
    assert verify_password(BLF_LONG_VECTOR, BLF_LONG_VECTOR_PASSWORD[:72])
    assert not verify_password(BLF_LONG_VECTOR, BLF_LONG_VECTOR_PASSWORD[:71])


@pytest.mark.parametrize("password", NON_ASCII_PASSWORDS)
def test_generated_sha512_crypt(password: str) -> None:
    bare = passlib.hash.sha512_crypt.using(rounds=5000).hash(password)
    for stored in (bare, "{SHA512-CRYPT}" + bare):
        assert verify_password(stored, password)
        assert not verify_password(stored, password.upper() + "!")
        assert needs_rehash(stored)


@pytest.mark.parametrize("password", NON_ASCII_PASSWORDS)
def test_generated_blf_crypt(password: str) -> None:
    bare = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    for stored in (bare, "{BLF-CRYPT}" + bare):
        assert verify_password(stored, password)
        assert not verify_password(stored, password + "!")
        assert needs_rehash(stored)


@pytest.mark.parametrize("password", NON_ASCII_PASSWORDS)
def test_argon2id_round_trip_non_ascii(password: str) -> None:
    stored = argon2id(password, memory_kib=19456, time_cost=2, salt=b"sixteen byte slt")
    assert verify_password(stored, password)
    assert not verify_password(stored, password + " ")


def test_no_unicode_normalisation() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    stored = passlib.hash.sha512_crypt.using(rounds=1000).hash(composed)
    assert verify_password(stored, composed)
    assert not verify_password(stored, decomposed)


def test_max_length_password_is_accepted() -> None:
    password = "é" * (MAX_PASSWORD_BYTES // 2)
    stored = passlib.hash.sha512_crypt.using(rounds=1000).hash(password)
    assert verify_password(stored, password)


@pytest.mark.parametrize("password", ["a" * (MAX_PASSWORD_BYTES + 1), "é" * 513])
def test_oversized_password_refused(password: str, hashed: str) -> None:
    assert len(password.encode()) > MAX_PASSWORD_BYTES
    with pytest.raises(PasswordTooLong):
        hash_password(password)
    with pytest.raises(PasswordTooLong):
        verify_password(hashed, password)
    with pytest.raises(PasswordTooLong):
        verify_password("garbage", password)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "{PLAIN}secret",
        "{CRYPT}abSP.3ndyD8.A",
        "{SHA512-CRYPT}",
        "{SHA512-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "{BLF-CRYPT}$6$saltstring$abc",
        "{ARGON2ID}$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8",
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$",
        "$argon2id$v=19$m=banana,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$6$saltstring$tooshort",
        "$6$rounds=ten$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTL",
        "$2y$05$tooshort",
        "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeé",
        "$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0",
    ],
)
def test_malformed_or_unknown_hash_is_false_never_raises(stored: str) -> None:
    assert verify_password(stored, "password") is False
    assert needs_rehash(stored)


def test_password_with_lone_surrogate_never_matches(hashed: str) -> None:
    assert verify_password(hashed, "\ud800") is False


@pytest.mark.parametrize(
    ("memory_kib", "time_cost", "salt", "weaker"),
    [
        (19456, 2, b"sixteen byte slt", False),
        (24576, 3, b"sixteen byte slt", False),
        (19455, 2, b"sixteen byte slt", True),
        (24576, 1, b"sixteen byte slt", True),
        (19456, 2, b"8bytes!!", True),
    ],
)
def test_argon2id_rehash_only_when_weaker(
    memory_kib: int, time_cost: int, salt: bytes, weaker: bool
) -> None:
    stored = argon2id("pw", memory_kib=memory_kib, time_cost=time_cost, salt=salt)
    assert needs_rehash(stored) is weaker
    assert needs_rehash("{ARGON2ID}" + stored) is weaker


def test_reference_vector_needs_rehash_for_its_short_salt() -> None:
    assert needs_rehash(ARGON2_VECTOR)


def test_imported_schemes_always_need_rehash() -> None:
    for stored in (SHA512_VECTOR, SHA512_ROUNDS_VECTOR, BLF_VECTOR, BLF_LONG_VECTOR):
        assert needs_rehash(stored)
