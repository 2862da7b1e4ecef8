"""Users, domains and aliases in one small SQLite database (``accounts.sqlite``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite

from mailhost.store.addresses import AddressError, domain_of, normalise_address
from mailhost.store.interface import StoreError, User
from mailhost.store.sqlite.db import file_state
from mailhost.store.sqlite.schema import DIRECTORY_MIGRATIONS

MAX_ALIAS_DEPTH = 8
CACHE_SECONDS = 2.0
CACHE_SIZE = 8192
# How long a reading of the directory files' state serves cache hits that found something (see
# _one): two stat calls per lookup, six to eight lookups per delivery, cost ~10% of a
# delivery's CPU. Another process's change (the CLI) therefore shows within this long; this
# process's own writes, and any lookup that found nothing, see it at once.
STATE_SECONDS = 0.005

FileState = tuple[int, ...]


class UserExists(StoreError):
    pass


class NoSuchUser(StoreError):
    pass


class SqliteDirectory:
    """The account directory. Addresses are normalised (lowercase) before any query."""

    migrations = DIRECTORY_MIGRATIONS

    def __init__(self, db: aiosqlite.Connection, path: Path | None = None) -> None:
        self.db = db
        self.lock = asyncio.Lock()
        self.path = path  # the database file, if known: lets lookups be cached (see _one)
        self._cache: dict[tuple[str, tuple[Any, ...]], tuple[FileState, float, Any]] = {}
        self._state: FileState | None = None  # the files' state, read at _state_read
        self._state_read = 0.0

    def _state_now(self, fresh: bool = False) -> FileState:
        """The directory files' state, read again if ``fresh`` or older than STATE_SECONDS."""
        assert self.path is not None
        now = time.monotonic()
        if fresh or self._state is None or now - self._state_read >= STATE_SECONDS:
            self._state, self._state_read = file_state(self.path), now
        return self._state

    def _snapshot(self) -> FileState | None:
        """The directory files' state, taken before reading (see :meth:`_one`), or None.

        A method that makes several lookups takes it once and hands it to each: the answers
        are then those of one moment during the call, as if the lookups ran at once.
        """
        return self._state_now() if self.path is not None else None

    async def _one(self, sql: str, params: tuple[Any, ...] = (), *,
                   state: FileState | None = None,
                   convert: Callable[[Any], Any] | None = None) -> Any:
        """One row (``convert``-ed), reused while the directory's files have not moved (at most
        CACHE_SECONDS).

        Every RCPT, delivery, login and APPEND quota check looks up a user, a domain or an
        alias; a lookup from the cache costs at most two stat calls (``state``, read at most
        every STATE_SECONDS, unless the caller took it already: see :meth:`_snapshot`)
        instead of a hop to the database thread. Any commit, by this process or another (the
        CLI), moves the files; the time bound covers a commit caught between writing its WAL
        frames and publishing them. A cached "nothing there" is only reused while the files
        are unchanged right now, so a user or domain just added is never refused. The
        converted value is what is kept, so a hit builds nothing (the values are immutable).
        """
        if self.path is None:
            row = await self._fetch_one(sql, params)
            return row if convert is None else convert(row)
        if state is None:
            state = self._state_now()  # before the read: a commit after it moves the state
        now = time.monotonic()
        key = (sql, params)
        cached = self._cache.get(key)
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            if cached[2] is not None and cached[0] == state:
                return cached[2]
            if cached[2] is None:  # "nothing there" is checked against the files as they are
                state = self._state_now(fresh=True)
                if cached[0] == state:
                    return None
        row = await self._fetch_one(sql, params)
        value = row if convert is None else convert(row)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (state, now, value)
        return value

    async def _fetch_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        cursor = await self.db.execute(sql, params)
        return await cursor.fetchone()

    async def _write(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        async with self.lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    await self.db.execute(sql, params)
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            finally:
                self._cache.clear()
                self._state = None

    @staticmethod
    def _user(row: Any) -> User:
        return User(
            id=row[0], address=row[1], password_hash=row[2], created_at=row[3],
            quota_bytes=row[4], quota_messages=row[5],
        )

    @classmethod
    def _user_or_none(cls, row: Any) -> User | None:
        return cls._user(row) if row else None

    _USER_COLUMNS = "id, address, password_hash, created_at, quota_bytes, quota_messages"
    _USER_BY_ADDRESS = f"SELECT {_USER_COLUMNS} FROM user WHERE address = ?"

    async def add_user(self, address: str, password_hash: str) -> User:
        address = normalise_address(address)
        if await self.get_user(address) is not None:
            raise UserExists(f"user {address} already exists")
        if await self._one("SELECT 1 FROM alias WHERE address = ?", (address,)):
            raise UserExists(f"{address} is an alias; delete the alias first")
        await self._write(
            ("INSERT OR IGNORE INTO domain(name) VALUES (?)", (domain_of(address),)),
            ("INSERT INTO user(address, password_hash, created_at) VALUES (?, ?, ?)",
             (address, password_hash, time.time())),
        )
        user = await self.get_user(address)
        assert user is not None
        return user

    async def get_user(self, address: str) -> User | None:
        try:
            address = normalise_address(address)
        except AddressError:
            return None
        return await self._find_user(address)

    async def _find_user(self, address: str, state: FileState | None = None) -> User | None:
        """The user at a normalised ``address``; ``state``: see :meth:`_snapshot`."""
        user: User | None = await self._one(self._USER_BY_ADDRESS, (address,), state=state,
                                            convert=self._user_or_none)
        return user

    async def _require(self, address: str) -> User:
        user = await self.get_user(address)
        if user is None:
            raise NoSuchUser(f"no user {address}")
        return user

    async def set_password(self, address: str, password_hash: str) -> None:
        user = await self._require(address)
        await self._write(("UPDATE user SET password_hash = ? WHERE id = ?",
                           (password_hash, user.id)))

    async def delete_user(self, address: str) -> None:
        user = await self._require(address)
        await self._write(
            ("DELETE FROM alias WHERE target = ?", (user.address,)),
            ("DELETE FROM user WHERE id = ?", (user.id,)),
        )

    async def list_users(self) -> list[User]:
        cursor = await self.db.execute(f"SELECT {self._USER_COLUMNS} FROM user ORDER BY address")
        return [self._user(row) for row in await cursor.fetchall()]

    async def set_quota(self, address: str, quota_bytes: int, quota_messages: int) -> None:
        user = await self._require(address)
        await self._write(("UPDATE user SET quota_bytes = ?, quota_messages = ? WHERE id = ?",
                           (quota_bytes, quota_messages, user.id)))

    async def add_domain(self, domain: str) -> None:
        domain = domain_of(f"x@{domain}")
        await self._write(("INSERT OR IGNORE INTO domain(name) VALUES (?)", (domain,)))

    async def delete_domain(self, domain: str) -> None:
        domain = domain.lower()
        if await self._one("SELECT 1 FROM user WHERE address LIKE ? ESCAPE '\\'",
                           ("%@" + _escape_like(domain),)):
            raise StoreError(f"domain {domain} still has users; delete them first")
        await self._write(("DELETE FROM domain WHERE name = ?", (domain,)))

    async def list_domains(self) -> list[str]:
        cursor = await self.db.execute("SELECT name FROM domain ORDER BY name")
        return [row[0] for row in await cursor.fetchall()]

    async def is_local_domain(self, domain: str, state: FileState | None = None) -> bool:
        """Mail for ``domain`` is ours; ``state``: see :meth:`_snapshot`."""
        return bool(await self._one("SELECT 1 FROM domain WHERE name = ?", (domain.lower(),),
                                    state=state))

    async def add_alias(self, alias: str, target: str) -> None:
        alias = normalise_address(alias)
        target = normalise_address(target)
        if await self.get_user(alias) is not None:
            raise StoreError(f"{alias} is a user; an alias cannot shadow it")
        if alias == target:
            raise StoreError("an alias cannot point at itself")
        await self._write(
            ("INSERT OR IGNORE INTO domain(name) VALUES (?)", (domain_of(alias),)),
            ("INSERT OR REPLACE INTO alias(address, target) VALUES (?, ?)", (alias, target)),
        )

    async def delete_alias(self, alias: str) -> None:
        alias = normalise_address(alias)
        if not await self._one("SELECT 1 FROM alias WHERE address = ?", (alias,)):
            raise StoreError(f"no alias {alias}")
        await self._write(("DELETE FROM alias WHERE address = ?", (alias,)))

    async def list_aliases(self) -> list[tuple[str, str]]:
        cursor = await self.db.execute("SELECT address, target FROM alias ORDER BY address")
        return [(row[0], row[1]) for row in await cursor.fetchall()]

    async def route(self, domain: str, address: str) -> list[str] | None:
        """None if ``domain`` is not local, else :meth:`resolve` of ``address`` (the same
        moment for both answers: an RCPT's check takes one snapshot, see :meth:`_snapshot`)."""
        state = self._snapshot()
        if not await self.is_local_domain(domain, state):
            return None
        return await self.resolve(address, state)

    async def resolve(self, address: str, state: FileState | None = None) -> list[str]:
        """The local accounts mail to ``address`` reaches (aliases followed, loops bounded).

        ``user+tag@domain`` reaches ``user@domain`` when no address matches it exactly
        (subaddressing, RFC 5233); the tag stays available to delivery hooks. ``state``: see
        :meth:`_snapshot`.
        """
        try:
            address = normalise_address(address)
        except AddressError:
            return []
        if state is None:
            state = self._snapshot()
        local, _, domain = address.rpartition("@")
        if "+" in local and await self._find_user(address, state) is None and not await self._one(
                "SELECT 1 FROM alias WHERE address = ?", (address,), state=state):
            address = f"{local.split('+', 1)[0]}@{domain}"
        seen: set[str] = set()
        for _ in range(MAX_ALIAS_DEPTH):
            if address in seen:
                return []
            seen.add(address)
            if await self._find_user(address, state) is not None:
                return [address]
            row = await self._one("SELECT target FROM alias WHERE address = ?", (address,),
                                  state=state)
            if row is None:
                return []
            address = row[0]
        return []

    async def aliases_of(self, address: str) -> list[str]:
        """Addresses that deliver to ``address`` (a user may send as any of them)."""
        address = normalise_address(address)
        cursor = await self.db.execute("SELECT address FROM alias WHERE target = ?", (address,))
        return [row[0] for row in await cursor.fetchall()]

    async def get_setting(self, address: str, namespace: str, key: str) -> Any:
        user = await self._require(address)
        row = await self._one(
            "SELECT value FROM user_setting WHERE user_id = ? AND namespace = ? AND key = ?",
            (user.id, namespace, key),
        )
        return json.loads(row[0]) if row else None

    async def set_setting(self, address: str, namespace: str, key: str, value: Any) -> None:
        user = await self._require(address)
        if value is None:
            await self._write((
                "DELETE FROM user_setting WHERE user_id = ? AND namespace = ? AND key = ?",
                (user.id, namespace, key),
            ))
            return
        await self._write((
            "INSERT OR REPLACE INTO user_setting(user_id, namespace, key, value) "
            "VALUES (?, ?, ?, ?)",
            (user.id, namespace, key, json.dumps(value)),
        ))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
