"""Checking a login, the same way for every protocol.

The rules that make password guessing expensive live here once: cleartext only over TLS (or
loopback when allowed), a delay on every failure (an ``asyncio.sleep``, so other sessions keep
running), a per-IP lockout shared by all protocols, one log line per failure, and the password
hash verified off the event loop with a cache in front, like Dovecot's ``auth_cache``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from mailhost.auth.cache import AuthCache
from mailhost.auth.passwords import (
    MAX_PASSWORD_BYTES,
    hash_password,
    needs_rehash,
    verify_password,
)
from mailhost.auth.ratelimit import FailureLimiter
from mailhost.decisions import AuthFailure, AuthOutcome, AuthSuccess
from mailhost.plugins import PluginError
from mailhost.store.addresses import AddressError, normalise_address, safe_for_log

if TYPE_CHECKING:
    from mailhost.app import App

log = logging.getLogger("mailhost.auth")
T = TypeVar("T")


class TransportSecurity(Protocol):
    """What the cleartext rule needs to know about a connection (a Channel, or SMTP's view)."""

    @property
    def is_secure(self) -> bool: ...
    @property
    def is_loopback(self) -> bool: ...


@dataclass(frozen=True)
class LoginAttempt:
    """Who is trying, from where and how: everything the failure log line needs."""

    username: str
    password: str
    protocol: str
    mechanism: str
    peer: str
    authzid: str | None = None


class Authenticator:
    def __init__(self, app: App) -> None:
        self.app = app
        cfg = app.config.auth
        self.settings = cfg
        self.limiter = FailureLimiter(
            max_failures=cfg.max_failures, window=cfg.failure_window, lockout=cfg.lockout
        )
        self.cache = AuthCache(ttl=cfg.cache_ttl)
        self.master_users = frozenset(u.lower() for u in cfg.master_users)
        # One password hash per core at a time: an argon2id call holds 19 MiB, so twenty
        # parallel logins would need 380 MiB at once while gaining nothing on two cores.
        self._hashing = asyncio.Semaphore(os.cpu_count() or 1)

    def cleartext_allowed(self, conn: TransportSecurity) -> bool:
        """May a password be sent on this connection as it is now?"""
        return conn.is_secure or (self.settings.allow_cleartext_loopback and conn.is_loopback)

    def is_locked_out(self, ip: str) -> bool:
        return self.limiter.is_locked(ip)

    async def login(self, attempt: LoginAttempt) -> AuthOutcome:
        """Authenticate; failures are delayed, logged and counted before this returns."""
        outcome = await self._decide(attempt)
        if (isinstance(outcome, AuthSuccess) and attempt.authzid
                and attempt.authzid.lower() != outcome.username):
            outcome = await self._authorize_as(outcome.username, attempt.authzid)
        if isinstance(outcome, AuthSuccess):
            self.limiter.record_success(attempt.peer)
            return outcome
        await self._fail(attempt, outcome)
        return outcome

    async def _decide(self, attempt: LoginAttempt) -> AuthOutcome:
        if len(attempt.password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            return AuthFailure("password too long")
        try:
            username = normalise_address(attempt.username)
        except AddressError:
            return AuthFailure("invalid username")
        try:
            outcome = await self.app.plugins.decide(
                "mailhost_authenticate", app=self.app, username=username,
                password=attempt.password, protocol=attempt.protocol, peer=attempt.peer,
            )
        except PluginError as exc:
            return AuthFailure(f"authentication source failed ({exc.plugin})", temporary=True)
        if outcome is None:
            return AuthFailure("no authentication source accepted the user")
        assert isinstance(outcome, AuthSuccess | AuthFailure)
        return outcome

    async def _authorize_as(self, authcid: str, authzid: str) -> AuthOutcome:
        """SASL authzid: only a configured master user may act as someone else."""
        if authcid not in self.master_users:
            return AuthFailure(f"{authcid} may not log in as another user")
        user = await self.app.store.directory.get_user(authzid)
        if user is None:
            return AuthFailure("authorization identity does not exist")
        log.info("master user %s logged in as %s", authcid, user.address)
        return AuthSuccess(user.address)

    async def _fail(self, attempt: LoginAttempt, outcome: AuthFailure) -> None:
        locked = self.limiter.record_failure(attempt.peer)
        # The fail2ban filter in deploy/ matches this exact shape; keep it stable.
        log.warning(
            "auth failed: protocol=%s mechanism=%s user=%s ip=%s reason=%s%s",
            attempt.protocol, attempt.mechanism, safe_for_log(attempt.username),
            attempt.peer, outcome.reason, " (ip now locked out)" if locked else "",
        )
        await self.app.plugins.notify(
            "mailhost_auth_failed", app=self.app, username=attempt.username,
            protocol=attempt.protocol, mechanism=attempt.mechanism, peer=attempt.peer,
        )
        await asyncio.sleep(self.settings.failure_delay)

    async def verify_local(self, username: str, password: str) -> AuthOutcome | None:
        """The built-in source: the SQLite user table (returns None for unknown users)."""
        directory = self.app.store.directory
        user = await directory.get_user(username)
        if user is None:
            return None
        if self.cache.lookup(user.address, password, user.password_hash):
            return AuthSuccess(user.address)
        ok = await self._hash_off_loop(verify_password, user.password_hash, password)
        if not ok:
            return AuthFailure("invalid credentials")
        stored_hash = user.password_hash
        if needs_rehash(user.password_hash):
            stored_hash = await self._hash_off_loop(hash_password, password)
            await directory.set_password(user.address, stored_hash)
            log.info("rehashed password of %s to argon2id", user.address)
        self.cache.store_success(user.address, password, stored_hash)
        return AuthSuccess(user.address)

    async def _hash_off_loop(self, fn: Callable[..., T], *args: str) -> T:
        """Run ``fn`` in a worker thread once a core is free for it.

        The slot is given back when the thread finishes, not when the waiting session goes
        away: a client that disconnects mid-login must not let more hashes run than cores.
        """
        await self._hashing.acquire()
        try:
            future = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        except BaseException:
            self._hashing.release()
            raise
        future.add_done_callback(lambda _done: self._hashing.release())
        return await asyncio.shield(future)
