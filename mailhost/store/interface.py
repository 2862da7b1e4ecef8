"""What the protocols may ask of a message store, as typing.Protocols plus plain records.

Sessions depend on these interfaces, never on SQLite, so a second backend (or a test double)
fits without touching protocol code. Every method of :class:`Mailbox`-level access is scoped
to one account: there is no way to name another user's mailbox or message through it.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol


class StoreError(Exception):
    """A store operation failed in a way the client should hear about (NO / -ERR / 4xx)."""


class TemporaryStoreError(StoreError):
    """The store could not commit now (disk full, locked); nothing was stored, retry later."""


class StorageFull(TemporaryStoreError):
    """The disk (or SQLite's page limit) is full; SMTP says 452 4.3.1 rather than a vague 451."""


class MailboxNotFound(StoreError):
    pass


class MailboxExists(StoreError):
    pass


class InvalidMailboxName(StoreError):
    pass


class OverQuota(StoreError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    address: str
    password_hash: str
    created_at: float
    quota_bytes: int = 0  # 0: unlimited
    quota_messages: int = 0


@dataclass(frozen=True)
class MailboxInfo:
    id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    subscribed: bool
    special_use: str | None
    messages: int = 0
    unseen: int = 0
    size: int = 0


@functools.lru_cache(maxsize=256)
def zone(minutes: int) -> timezone:
    """One tzinfo per offset, shared by every INTERNALDATE built."""
    return timezone(timedelta(minutes=minutes))


@dataclass(frozen=True, slots=True, init=False)
class MessageMeta:
    """What a session keeps per message in its index (no body, no parsed data).

    Every selected session holds one per message, so it has slots (no per-object dict), and
    INTERNALDATE is kept as epoch seconds plus zone minutes: a ``datetime`` per message was
    an eighth of SELECT on a big folder, and most commands never ask for it.
    """

    uid: int
    modseq: int
    flags: tuple[str, ...]
    size: int
    internaldate_ts: float
    internaldate_tz: int  # minutes east of UTC
    savedate: float

    def __init__(
        self, uid: int, modseq: int, flags: tuple[str, ...], size: int,
        internaldate: datetime | None = None, savedate: float = 0.0,
        internaldate_ts: float = 0.0, internaldate_tz: int = 0,
    ) -> None:
        if internaldate is not None:
            offset = internaldate.utcoffset()
            internaldate_ts = internaldate.timestamp()
            internaldate_tz = int(offset.total_seconds() // 60) if offset else 0
        setter = object.__setattr__
        setter(self, "uid", uid)
        setter(self, "modseq", modseq)
        setter(self, "flags", flags)
        setter(self, "size", size)
        setter(self, "internaldate_ts", internaldate_ts)
        setter(self, "internaldate_tz", internaldate_tz)
        setter(self, "savedate", savedate)

    @property
    def internaldate(self) -> datetime:
        return datetime.fromtimestamp(self.internaldate_ts, zone(self.internaldate_tz))


@dataclass(frozen=True)
class MessageParts:
    """Parsed-at-store-time data FETCH answers from without re-reading the body."""

    uid: int
    envelope: bytes
    body: bytes
    bodystructure: bytes
    tree_json: bytes
    header_end: int


@dataclass(frozen=True)
class MessageRef:
    """Names one stored message for hooks: enough to find it again, nothing to leak."""

    account: str
    mailbox: str
    uidvalidity: int
    uid: int


FlagMode = Literal["set", "add", "remove"]


@dataclass(frozen=True)
class FlagUpdate:
    updated: tuple[MessageMeta, ...]
    failed_uids: tuple[int, ...]  # UNCHANGEDSINCE conflicts (RFC 7162 MODIFIED)


@dataclass(frozen=True)
class SearchCriteria:
    """Search filters the store evaluates in SQL; the IMAP layer combines them."""

    sql: str
    params: tuple[Any, ...]


class Directory(Protocol):
    """Accounts, domains and aliases."""

    async def add_user(self, address: str, password_hash: str) -> User: ...
    async def get_user(self, address: str) -> User | None: ...
    async def set_password(self, address: str, password_hash: str) -> None: ...
    async def delete_user(self, address: str) -> None: ...
    async def list_users(self) -> list[User]: ...
    async def set_quota(self, address: str, quota_bytes: int, quota_messages: int) -> None: ...
    async def add_domain(self, domain: str) -> None: ...
    async def delete_domain(self, domain: str) -> None: ...
    async def list_domains(self) -> list[str]: ...
    async def is_local_domain(self, domain: str) -> bool: ...
    async def add_alias(self, alias: str, target: str) -> None: ...
    async def delete_alias(self, alias: str) -> None: ...
    async def list_aliases(self) -> list[tuple[str, str]]: ...
    async def resolve(self, address: str) -> list[str]: ...
    async def route(self, domain: str, address: str) -> list[str] | None: ...
    async def get_setting(self, address: str, namespace: str, key: str) -> Any: ...
    async def set_setting(self, address: str, namespace: str, key: str, value: Any) -> None: ...


class MailStore(Protocol):
    """One account's mailboxes and messages."""

    account: str

    async def list_mailboxes(self) -> list[MailboxInfo]: ...
    async def get_mailbox(self, name: str) -> MailboxInfo | None: ...
    async def create_mailbox(self, name: str, special_use: str | None = None) -> MailboxInfo: ...
    async def delete_mailbox(self, name: str) -> None: ...
    async def rename_mailbox(self, old: str, new: str) -> None: ...
    async def set_subscribed(self, name: str, subscribed: bool) -> None: ...
    async def list_subscriptions(self) -> list[str]:
        """Subscribed names, sorted; a name outlives its mailbox (RFC 3501 §6.3.6)."""
        ...
    async def append(
        self, mailbox: str, raw: bytes, flags: Iterable[str] = (),
        internaldate: datetime | None = None, analyse_later: bool = False,
    ) -> tuple[MailboxInfo, MessageMeta]: ...
    async def messages(self, mailbox_id: int) -> list[MessageMeta]: ...
    async def read_raw(self, mailbox_id: int, uid: int) -> bytes | None: ...
    async def iter_raw(
        self, mailbox_id: int, uids: Sequence[int]
    ) -> AsyncIterator[tuple[int, bytes]]: ...
    async def parts(self, mailbox_id: int, uids: Sequence[int]) -> list[MessageParts]: ...
    async def store_flags(
        self, mailbox_id: int, uids: Sequence[int], mode: FlagMode, flags: Iterable[str],
        unchangedsince: int | None = None,
    ) -> FlagUpdate: ...
    async def expunge(self, mailbox_id: int, uids: Sequence[int]) -> list[int]: ...
    async def copy(
        self, mailbox_id: int, uids: Sequence[int], target: str
    ) -> tuple[MailboxInfo, list[tuple[int, int]]]: ...
    async def usage(self) -> tuple[int, int]: ...


class Store(Protocol):
    """The whole store: the directory plus access to each account's mail."""

    directory: Directory

    def account(self, address: str) -> AbstractAsyncContextManager[MailStore]: ...
    async def close(self) -> None: ...
