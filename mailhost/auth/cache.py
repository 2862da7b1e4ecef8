"""Remember recent successful password checks so clients that log in often skip argon2.

Like Dovecot's auth_cache, but the cache never holds a password or anything an attacker who
reads process memory could brute-force offline cheaply: each entry is a BLAKE2b MAC keyed
with 32 random bytes that exist only in this object (and are replaced by :meth:`clear`).
The MAC input length-prefixes username and password, so no two (username, password) pairs
share an encoding (``("ab", "c")`` vs ``("a", "bc")``).

A miss means "verify for real", never "wrong password". The caller must call
:meth:`AuthCache.invalidate` when a password changes or an account is deleted, otherwise the
old password keeps working for up to ``ttl`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

KEY_BYTES = 32
_LENGTH_PREFIX_BYTES = 8
_DOMAIN = b"mailhost-authc"


def normalise_username(username: str) -> str:
    """Usernames are compared lowercased, as the account store normalises them."""
    return username.lower()


def _length_prefixed(*parts: str) -> bytes:
    """Unambiguous encoding: every part as 8-byte big-endian length followed by its UTF-8."""
    encoded = bytearray()
    for part in parts:
        raw = part.encode("utf-8", "surrogatepass")
        encoded += len(raw).to_bytes(_LENGTH_PREFIX_BYTES, "big")
        encoded += raw
    return bytes(encoded)


@dataclass(frozen=True)
class _Entry:
    mac: bytes
    expires: float


class AuthCache:
    """Successful (username, password) checks remembered for ``ttl`` seconds; ``ttl <= 0``: off.

    At most ``max_entries`` users are remembered, one (the latest) password each; the least
    recently used is evicted first. An entry's lifetime counts from when it was stored, so
    frequent logins do not keep a stale password alive forever.
    """

    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._ttl = ttl
        self._max_entries = max_entries
        self._now = now
        self._key = secrets.token_bytes(KEY_BYTES)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """False when configured with ``ttl <= 0``: nothing is ever stored."""
        return self._ttl > 0

    def __len__(self) -> int:
        """Number of users currently remembered (expired ones may linger until touched)."""
        return len(self._entries)

    def _mac(self, user: str, password: str, stamp: str) -> bytes:
        digest = hashlib.blake2b(key=self._key, digest_size=32, person=_DOMAIN)
        digest.update(_length_prefixed(user, password, stamp))
        return digest.digest()

    def lookup(self, username: str, password: str, stamp: str = "") -> bool:
        """True only if this exact password succeeded for ``username`` less than ttl ago.

        ``stamp`` is the stored credential (the hash) the check was made against: when the
        password is changed by another process, e.g. ``mailhost user passwd``, the stamp
        differs and the cache misses without anyone having to call :meth:`invalidate`.
        """
        if not self.enabled:
            return False
        user = normalise_username(username)
        entry = self._entries.get(user)
        if entry is None:
            return False
        if self._now() >= entry.expires:
            del self._entries[user]
            return False
        if not hmac.compare_digest(entry.mac, self._mac(user, password, stamp)):
            return False
        self._entries.move_to_end(user)
        return True

    def store_success(self, username: str, password: str, stamp: str = "") -> None:
        """Remember that ``password`` was verified for ``username`` (replacing older entries)."""
        if not self.enabled:
            return
        now = self._now()
        user = normalise_username(username)
        self._entries[user] = _Entry(mac=self._mac(user, password, stamp), expires=now + self._ttl)
        self._entries.move_to_end(user)
        self._prune(now)

    def invalidate(self, username: str) -> None:
        """Forget ``username`` (password changed, account deleted or disabled)."""
        self._entries.pop(normalise_username(username), None)

    def clear(self) -> None:
        """Forget everyone and draw a fresh key, so nothing derived from the old one survives."""
        self._entries.clear()
        self._key = secrets.token_bytes(KEY_BYTES)

    def _prune(self, now: float) -> None:
        """Drop expired entries at the least recently used end, then enforce the size bound."""
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if now < oldest.expires:
                break
            self._entries.popitem(last=False)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
