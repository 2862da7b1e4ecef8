"""One account's mailboxes and messages in its own SQLite file.

Each account has its own database, so writers for different users never contend and an account
can be backed up, moved or deleted on its own. All sessions of one account share one connection
(one SQLite thread) and a lock, so their transactions never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from mailhost.mime import MessageAnalysis, analyse, searchable_text
from mailhost.store.events import EventKind, StoreEvent, StoreObserver
from mailhost.store.flags import (
    decode_keywords,
    encode_keywords,
    join_flags,
    split_flags,
)
from mailhost.store.interface import (
    FlagMode,
    FlagUpdate,
    InvalidMailboxName,
    MailboxExists,
    MailboxInfo,
    MailboxNotFound,
    MessageMeta,
    MessageParts,
    OverQuota,
    StorageFull,
    StoreError,
    TemporaryStoreError,
)
from mailhost.store.names import validate_mailbox_name
from mailhost.store.sqlite.schema import ACCOUNT_MIGRATIONS

log = logging.getLogger("mailhost.store")

CHUNK = 500  # rows per IN (...) query: well under SQLite's variable limit
FOREIGN_POLL_SECONDS = 1.0  # how often a waiter looks for commits by other processes

QuotaSource = Callable[[], Awaitable[tuple[int, int]]]
T = TypeVar("T")


def _chunks(items: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


_X_UIDL = re.compile(rb"^X-UIDL:[ \t]*([\x21-\x7e]{1,70})[ \t]*\r?$", re.I | re.M)


def normalise_line_endings(raw: bytes) -> bytes:
    """Bare LF becomes CRLF and the message ends with CRLF (bytes.replace, no line loop)."""
    if b"\n" in raw.replace(b"\r\n", b""):
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if raw and not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    return raw


def x_uidl_of(header: bytes) -> str | None:
    """A migrated message's old POP3 UIDL, if its header carries a valid X-UIDL."""
    match = _X_UIDL.search(header)
    return match.group(1).decode("ascii") if match else None


def _analyse_for_store(raw: bytes) -> tuple[MessageAnalysis, str]:
    """Everything parsed once at store time (run in a worker thread)."""
    analysis = analyse(raw)
    return analysis, searchable_text(raw, analysis.tree).casefold()


# SQLite result codes that mean "not now" rather than "never": the disk (or max_page_count) is
# full, the file is locked by another process beyond busy_timeout, or the OS reported I/O errors.
_TEMPORARY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR}


def temporary_error(exc: BaseException) -> TemporaryStoreError | None:
    """The retry-later error for a failed SQLite statement, or None if it is not one.

    SQLITE_FULL can come from any INSERT, not only from COMMIT, and a mail server must answer
    it with a 4xx, never a 5xx or a crash.
    """
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF  # extended codes (SQLITE_IOERR_WRITE ...) keep the primary low byte
    if primary == sqlite3.SQLITE_FULL:
        return StorageFull(f"storage full: {exc}")
    if primary in _TEMPORARY_CODES:
        return TemporaryStoreError(f"temporary store failure: {exc}")
    return None


def _wall_clock(moment: datetime) -> float:
    """The Date: header's time as written, its zone dropped, as epoch seconds.

    SENTBEFORE/SENTON/SENTSINCE compare the date as written, "disregarding time and
    timezone" (RFC 3501 §6.4.4); the UTC instant would move 23:30 -0800 to the next day.
    """
    return moment.replace(tzinfo=UTC).timestamp()


def _internaldate(ts: float, tz_minutes: int) -> datetime:
    return datetime.fromtimestamp(ts, _zone(tz_minutes))


@functools.lru_cache(maxsize=256)
def _zone(minutes: int) -> timezone:
    """One tzinfo per offset, shared by every INTERNALDATE that sessions keep."""
    return timezone(timedelta(minutes=minutes))


class SqliteMailStore:
    """The mail of one account; every query is scoped to this account's own database file."""

    migrations = ACCOUNT_MIGRATIONS
    # Expunged UIDs remembered per mailbox for QRESYNC and VANISHED. Older ones are forgotten
    # (the floor rises) and callers fall back to "every UID not present" (RFC 7162 §3.2.5.2).
    expunged_kept = 10_000

    def __init__(
        self, account: str, db: aiosqlite.Connection, quota_bytes: int = 0,
        quota_messages: int = 0, path: Path | None = None,
    ) -> None:
        self.account = account
        self.db = db
        self.lock = asyncio.Lock()
        self.quota_bytes = quota_bytes
        self.quota_messages = quota_messages
        self.generation = 0  # bumped after every committed change, for IDLE and sync
        self._changed = asyncio.Event()
        self.observer: StoreObserver | None = None
        self.quota_source: QuotaSource | None = None  # reads the current limits, if set
        self._waiters = 0
        self._watcher: asyncio.Task[None] | None = None
        self._data_version: int | None = None
        self.path = path  # the database file, if known: lets the watcher stat before asking
        self._files: tuple[int, ...] | None = None
        self._recheck = 0

    # -- plumbing ----------------------------------------------------------------------------

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the account's sqlite3 connection on its database thread.

        One call is one hop to the database thread, however many statements ``fn`` runs, so
        hot paths put a whole read (or a whole transaction) in one function.
        """
        conn = self.db._conn  # aiosqlite offers no public hook for this
        result: T = await self.db._execute(fn, conn)  # type: ignore[no-untyped-call]
        return result

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        cursor = await self.db.execute(sql, tuple(params))
        return list(await cursor.fetchall())

    async def _row(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = await self.db.execute(sql, tuple(params))
        return await cursor.fetchone()

    async def _begin(self) -> None:
        try:
            await self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            mapped = temporary_error(exc)
            if mapped is not None:
                raise mapped from exc
            raise

    async def _commit(self) -> None:
        """COMMIT, mapping a failure (disk full, I/O error) to a temporary store error."""
        try:
            await self.db.execute("COMMIT")
        except Exception as exc:
            await self._rollback()
            mapped = temporary_error(exc) or TemporaryStoreError(f"could not commit: {exc}")
            raise mapped from exc
        self._announce_change()

    def _emit(self, kind: EventKind, mailbox: str, uids: Sequence[int] = (),
              new_name: str | None = None) -> None:
        if self.observer is not None:
            self.observer(StoreEvent(kind, self.account, mailbox, tuple(uids), new_name))

    async def _mailbox_name(self, mailbox_id: int) -> str:
        row = await self._row("SELECT name FROM mailbox WHERE id = ?", (mailbox_id,))
        return str(row[0]) if row else ""

    def _announce_change(self) -> None:
        """Wake every session of this account waiting in IDLE (same process)."""
        self.generation += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for_change(self, generation: int, timeout: float) -> bool:
        """Wait until ``generation`` is out of date or ``timeout`` passes; True if changed.

        Commits of this process wake waiters at once. Commits of other processes (CLI tools,
        another server sharing the data directory) are found by one watcher per account that
        runs only while someone waits, so a thousand IDLE sessions cost one cheap query a
        second per account, not one per session.
        """
        if self.generation != generation:
            return True
        self._waiters += 1
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch_other_processes())
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return False
        finally:
            self._waiters -= 1
        return True

    async def _foreign_version(self) -> int:
        """SQLite's data_version: it changes only when another connection commits."""
        row = await self._row("PRAGMA data_version")
        return int(row[0])

    def _file_state(self) -> tuple[int, ...] | None:
        """Size and mtime of the database and its WAL: any commit by anyone moves them."""
        if self.path is None:
            return None
        state: list[int] = []
        for name in (str(self.path), f"{self.path}-wal"):
            try:
                info = os.stat(name)
            except OSError:
                state.extend((-1, -1))
            else:
                state.extend((info.st_size, info.st_mtime_ns))
        return tuple(state)

    async def _watch_other_processes(self) -> None:
        """Ask SQLite (a round trip to the connection's thread) only when the files moved.

        With a thousand accounts idling, a stat a second each costs far less than a query a
        second each. A commit seen half-written (frames on disk, WAL index not yet updated)
        is caught by asking once more on the next round.
        """
        try:
            if self._data_version is None:
                self._data_version = await self._foreign_version()
            while self._waiters:
                await asyncio.sleep(FOREIGN_POLL_SECONDS)
                files = self._file_state()
                if files is not None and files == self._files and not self._recheck:
                    continue
                self._recheck = 1 if files != self._files else 0
                self._files = files
                version = await self._foreign_version()
                if version != self._data_version:
                    self._data_version = version
                    self._announce_change()
        except Exception:
            log.exception("%s: watching for changes by other processes failed", self.account)

    async def close(self) -> None:
        """Stop the watcher and close the database (the store is unusable afterwards)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
        await self.db.close()

    async def _abort(self, exc: BaseException) -> None:
        """Roll back after a failed statement; raise the retry-later error if it is one."""
        await self._rollback()
        mapped = temporary_error(exc)
        if mapped is not None:
            raise mapped from exc

    async def _rollback(self) -> None:
        try:
            await self.db.execute("ROLLBACK")
        except Exception:
            pass  # no transaction open (SQLite may already have rolled back)

    async def ensure_initialised(self) -> None:
        """Create the account's state row and INBOX the first time the account is opened."""
        self._data_version = await self._foreign_version()  # the watcher's baseline
        async with self.lock:
            if await self._row("SELECT 1 FROM account_state WHERE id = 1"):
                return
            await self._begin()
            try:
                await self.db.execute(
                    "INSERT INTO account_state(id, next_uidvalidity) VALUES (1, ?)",
                    (int(time.time()),),
                )
                await self._insert_mailbox("INBOX", None, subscribed=True)
            except BaseException:
                await self._rollback()
                raise
            await self._commit()

    async def _insert_mailbox(self, name: str, special_use: str | None, subscribed: bool) -> None:
        row = await self._row("SELECT next_uidvalidity FROM account_state WHERE id = 1")
        uidvalidity = int(row[0])
        await self.db.execute("UPDATE account_state SET next_uidvalidity = ? WHERE id = 1",
                              (uidvalidity + 1,))
        await self.db.execute(
            "INSERT INTO mailbox(name, uidvalidity, subscribed, special_use, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, uidvalidity, int(subscribed), special_use, time.time()),
        )

    # -- mailboxes ---------------------------------------------------------------------------

    _MAILBOX_SQL = (
        "SELECT m.id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.subscribed, "
        "m.special_use, COUNT(g.id), COALESCE(SUM((g.flags & 1) = 0), 0), "
        "COALESCE(SUM(g.size), 0) FROM mailbox m LEFT JOIN message g ON g.mailbox_id = m.id "
    )

    @staticmethod
    def _mailbox(row: Any) -> MailboxInfo:
        return MailboxInfo(
            id=row[0], name=row[1], uidvalidity=row[2], uidnext=row[3], highestmodseq=row[4],
            subscribed=bool(row[5]), special_use=row[6], messages=row[7], unseen=row[8],
            size=row[9],
        )

    async def list_mailboxes(self) -> list[MailboxInfo]:
        rows = await self._rows(self._MAILBOX_SQL + "GROUP BY m.id ORDER BY m.name")
        return [self._mailbox(r) for r in rows]

    async def get_mailbox(self, name: str) -> MailboxInfo | None:
        try:
            name = validate_mailbox_name(name)
        except InvalidMailboxName:
            return None
        row = await self._row(self._MAILBOX_SQL + "WHERE m.name = ? GROUP BY m.id", (name,))
        return self._mailbox(row) if row else None

    async def mailbox_by_id(self, mailbox_id: int) -> MailboxInfo | None:
        row = await self._row(self._MAILBOX_SQL + "WHERE m.id = ? GROUP BY m.id", (mailbox_id,))
        return self._mailbox(row) if row else None

    async def mailbox_version(self, mailbox_id: int) -> tuple[int, int] | None:
        """(UIDNEXT, HIGHESTMODSEQ), or None if the mailbox is gone.

        Every change to a mailbox moves one of the two, so sessions poll this primary-key
        lookup instead of the counting query behind :meth:`mailbox_by_id`.
        """
        row = await self._row("SELECT uidnext, highestmodseq FROM mailbox WHERE id = ?",
                              (mailbox_id,))
        return (int(row[0]), int(row[1])) if row else None

    async def _require(self, name: str) -> MailboxInfo:
        mailbox = await self.get_mailbox(name)
        if mailbox is None:
            raise MailboxNotFound(f"no mailbox {name!r}")
        return mailbox

    async def create_mailbox(
        self, name: str, special_use: str | None = None, subscribed: bool = False
    ) -> MailboxInfo:
        name = validate_mailbox_name(name)
        async with self.lock:
            if await self._row("SELECT 1 FROM mailbox WHERE name = ?", (name,)):
                raise MailboxExists(f"mailbox {name!r} already exists")
            await self._begin()
            try:
                await self._insert_mailbox(name, special_use, subscribed)
            except BaseException:
                await self._rollback()
                raise
            await self._commit()
        self._emit("mailbox_created", name)
        return await self._require(name)

    async def delete_mailbox(self, name: str) -> None:
        name = validate_mailbox_name(name)
        if name == "INBOX":
            raise StoreError("INBOX cannot be deleted")
        async with self.lock:
            row = await self._row("SELECT id FROM mailbox WHERE name = ?", (name,))
            if row is None:
                raise MailboxNotFound(f"no mailbox {name!r}")
            await self._begin()
            try:
                await self.db.execute("DELETE FROM message WHERE mailbox_id = ?", (row[0],))
                await self.db.execute("DELETE FROM mailbox WHERE id = ?", (row[0],))
            except BaseException:
                await self._rollback()
                raise
            await self._commit()
        self._emit("mailbox_deleted", name)

    async def rename_mailbox(self, old: str, new: str) -> None:
        """Rename a mailbox and its children; renaming INBOX moves its messages (RFC 3501).

        A name that is only a level above other mailboxes (IMAP's \\Noselect) can be renamed
        too: its children move.
        """
        old = validate_mailbox_name(old)
        new = validate_mailbox_name(new)
        async with self.lock:
            source = await self._row(
                "SELECT id FROM mailbox WHERE name = ? OR substr(name, 1, ?) = ? "
                "ORDER BY name = ? DESC LIMIT 1", (old, len(old) + 1, old + "/", old))
            if source is None:
                raise MailboxNotFound(f"no mailbox {old!r}")
            if await self._row("SELECT 1 FROM mailbox WHERE name = ?", (new,)):
                raise MailboxExists(f"mailbox {new!r} already exists")
            if new.startswith(old + "/"):
                raise StoreError("cannot rename a mailbox into its own child")
            await self._begin()
            try:
                if old == "INBOX":
                    await self._insert_mailbox(new, None, subscribed=False)
                    target = await self._row("SELECT id FROM mailbox WHERE name = ?", (new,))
                    await self._move_all(source[0], target[0])
                else:
                    children = await self._rows(
                        "SELECT id, name FROM mailbox WHERE name = ? OR substr(name, 1, ?) = ?",
                        (old, len(old) + 1, old + "/"),
                    )
                    for box_id, box_name in children:
                        await self.db.execute("UPDATE mailbox SET name = ? WHERE id = ?",
                                              (new + box_name[len(old):], box_id))
            except BaseException:
                await self._rollback()
                raise
            await self._commit()
        self._emit("mailbox_renamed", old, new_name=new)

    async def _move_all(self, source_id: int, target_id: int) -> None:
        """Move every message of INBOX to a fresh mailbox (inside the caller's transaction)."""
        rows = await self._rows(
            "SELECT id, uid FROM message WHERE mailbox_id = ? ORDER BY uid", (source_id,)
        )
        if not rows:
            return
        target = await self._row("SELECT uidnext, highestmodseq FROM mailbox WHERE id = ?",
                                 (target_id,))
        uid, modseq = target[0], target[1] + 1
        for message_id, _old_uid in rows:
            await self.db.execute(
                "UPDATE message SET mailbox_id = ?, uid = ?, modseq = ? WHERE id = ?",
                (target_id, uid, modseq, message_id),
            )
            uid += 1
        await self.db.execute("UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?",
                              (uid, modseq, target_id))
        await self._record_expunged(source_id, [r[1] for r in rows])

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        name = validate_mailbox_name(name)
        async with self.lock:
            await self.db.execute("UPDATE mailbox SET subscribed = ? WHERE name = ?",
                                  (int(subscribed), name))
        self._announce_change()

    async def set_special_use(self, name: str, special_use: str | None) -> None:
        name = validate_mailbox_name(name)
        async with self.lock:
            await self.db.execute("UPDATE mailbox SET special_use = ? WHERE name = ?",
                                  (special_use, name))

    # -- messages ----------------------------------------------------------------------------

    async def usage(self) -> tuple[int, int]:
        """(bytes, messages) used by the account, for QUOTA."""
        row = await self._row("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM message")
        return int(row[0]), int(row[1])

    async def refresh_quota(self) -> None:
        """Re-read the limits: an admin may change them while a client stays logged in."""
        if self.quota_source is not None:
            self.quota_bytes, self.quota_messages = await self.quota_source()

    async def _check_quota(self, adding_bytes: int, adding_messages: int) -> None:
        await self.refresh_quota()
        if not (self.quota_bytes or self.quota_messages):
            return
        used_bytes, used_messages = await self.usage()
        if self.quota_bytes and used_bytes + adding_bytes > self.quota_bytes:
            raise OverQuota("storage quota exceeded")
        if self.quota_messages and used_messages + adding_messages > self.quota_messages:
            raise OverQuota("message count quota exceeded")

    async def append(
        self, mailbox: str, raw: bytes, flags: Iterable[str] = (),
        internaldate: datetime | None = None,
    ) -> tuple[MailboxInfo, MessageMeta]:
        """Store one message durably; returns once the commit is on disk.

        Line endings are normalised to CRLF first, so the stored bytes are exactly what IMAP
        and POP3 send and every size reported is the size sent.
        """
        raw = normalise_line_endings(raw)
        analysis, text = await asyncio.to_thread(_analyse_for_store, raw)
        bits, keywords = split_flags(flags)
        when = internaldate or datetime.now(UTC).astimezone()
        offset = when.utcoffset() or timedelta(0)
        tz_minutes = int(offset.total_seconds() // 60)
        fields = analysis.fields
        now = time.time()
        async with self.lock:
            box = await self._row("SELECT id, uidnext, highestmodseq FROM mailbox WHERE name = ?",
                                  (validate_mailbox_name(mailbox),))
            if box is None:
                raise MailboxNotFound(f"no mailbox {mailbox!r}")
            mailbox_id, uid, modseq = box[0], box[1], box[2] + 1
            await self._check_quota(len(raw), 1)
            await self._begin()
            try:
                cursor = await self.db.execute(
                    "INSERT INTO body(size, header_end, envelope, bodystructure, body_simple, "
                    "tree, hdr_from, hdr_to, hdr_cc, hdr_bcc, hdr_subject, hdr_message_id, "
                    "x_uidl, sent_date) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (len(raw), analysis.header_end, analysis.envelope, analysis.bodystructure,
                     analysis.body, analysis.tree_json, fields.from_, fields.to, fields.cc,
                     fields.bcc, fields.subject, fields.message_id or "",
                     x_uidl_of(raw[:analysis.header_end]),
                     _wall_clock(fields.sent_date) if fields.sent_date else None),
                )
                body_id = cursor.lastrowid
                await self.db.execute("INSERT INTO body_raw(body_id, raw) VALUES (?, ?)",
                                      (body_id, raw))
                await self.db.execute("INSERT INTO body_text(body_id, text) VALUES (?, ?)",
                                      (body_id, text))
                await self.db.execute(
                    "INSERT INTO message(mailbox_id, uid, body_id, modseq, flags, keywords, "
                    "internaldate, internaldate_tz, savedate, size) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (mailbox_id, uid, body_id, modseq, bits, encode_keywords(keywords),
                     when.timestamp(), tz_minutes, now, len(raw)),
                )
                await self.db.execute(
                    "UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?",
                    (uid + 1, modseq, mailbox_id),
                )
            except BaseException as exc:
                await self._abort(exc)
                raise
            await self._commit()
        info = await self.mailbox_by_id(mailbox_id)
        assert info is not None
        self._emit("message_stored", info.name, (uid,))
        meta = MessageMeta(
            uid=uid, modseq=modseq, flags=join_flags(bits, keywords), size=len(raw),
            internaldate=_internaldate(when.timestamp(), tz_minutes), savedate=now,
        )
        return info, meta

    _META_SQL = ("SELECT uid, modseq, flags, keywords, size, internaldate, internaldate_tz, "
                 "savedate FROM message ")

    @staticmethod
    def _meta(row: Any) -> MessageMeta:
        return MessageMeta(
            uid=row[0], modseq=row[1], flags=join_flags(row[2], decode_keywords(row[3])),
            size=row[4], internaldate=_internaldate(row[5], row[6]), savedate=row[7],
        )

    async def messages(self, mailbox_id: int) -> list[MessageMeta]:
        rows = await self._rows(self._META_SQL + "WHERE mailbox_id = ? ORDER BY uid",
                                (mailbox_id,))
        return [self._meta(r) for r in rows]

    async def messages_changed_since(self, mailbox_id: int, modseq: int) -> list[MessageMeta]:
        rows = await self._rows(
            self._META_SQL + "WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
            (mailbox_id, modseq),
        )
        return [self._meta(r) for r in rows]

    async def read_raw(self, mailbox_id: int, uid: int) -> bytes | None:
        row = await self._row(
            "SELECT r.raw FROM message g JOIN body_raw r ON r.body_id = g.body_id "
            "WHERE g.mailbox_id = ? AND g.uid = ?", (mailbox_id, uid),
        )
        return bytes(row[0]) if row else None

    async def iter_raw(
        self, mailbox_id: int, uids: Sequence[int]
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Yield (uid, raw) a few at a time, so a big FETCH never holds every body at once."""
        for chunk in _chunks(list(uids)):
            for start in range(0, len(chunk), 16):
                part = chunk[start:start + 16]
                rows = await self._rows(
                    "SELECT g.uid, r.raw FROM message g JOIN body_raw r ON r.body_id = g.body_id "
                    f"WHERE g.mailbox_id = ? AND g.uid IN ({_placeholders(len(part))}) "
                    "ORDER BY g.uid", (mailbox_id, *part),
                )
                for uid, raw in rows:
                    yield uid, bytes(raw)

    async def parts(self, mailbox_id: int, uids: Sequence[int]) -> list[MessageParts]:
        out: list[MessageParts] = []
        for chunk in _chunks(list(uids)):
            rows = await self._rows(
                "SELECT g.uid, b.envelope, b.body_simple, b.bodystructure, b.tree, b.header_end "
                "FROM message g JOIN body b ON b.id = g.body_id "
                f"WHERE g.mailbox_id = ? AND g.uid IN ({_placeholders(len(chunk))}) "
                "ORDER BY g.uid", (mailbox_id, *chunk),
            )
            out.extend(MessageParts(r[0], bytes(r[1]), bytes(r[2]), bytes(r[3]), bytes(r[4]),
                                    r[5]) for r in rows)
        return out

    async def _bump_modseq(self, mailbox_id: int) -> int:
        row = await self._row("SELECT highestmodseq FROM mailbox WHERE id = ?", (mailbox_id,))
        modseq = int(row[0]) + 1
        await self.db.execute("UPDATE mailbox SET highestmodseq = ? WHERE id = ?",
                              (modseq, mailbox_id))
        return modseq

    async def store_flags(
        self, mailbox_id: int, uids: Sequence[int], mode: FlagMode, flags: Iterable[str],
        unchangedsince: int | None = None,
    ) -> FlagUpdate:
        """Change flags; only messages whose flags really change get a new MODSEQ."""
        bits, keywords = split_flags(flags)
        updated: list[MessageMeta] = []
        failed: list[int] = []
        async with self.lock:
            await self._begin()
            try:
                modseq: int | None = None
                for chunk in _chunks(list(uids)):
                    rows = await self._rows(
                        self._META_SQL + f"WHERE mailbox_id = ? AND uid IN "
                        f"({_placeholders(len(chunk))}) ORDER BY uid", (mailbox_id, *chunk),
                    )
                    for row in rows:
                        if unchangedsince is not None and row[1] > unchangedsince:
                            failed.append(row[0])
                            continue
                        old_bits, old_kw = row[2], decode_keywords(row[3])
                        if mode == "set":
                            new_bits, new_kw = bits, keywords
                        elif mode == "add":
                            new_bits, new_kw = old_bits | bits, old_kw | keywords
                        else:
                            new_bits, new_kw = old_bits & ~bits, old_kw - keywords
                        if (new_bits, new_kw) == (old_bits, old_kw):
                            continue
                        if modseq is None:
                            modseq = await self._bump_modseq(mailbox_id)
                        await self.db.execute(
                            "UPDATE message SET flags = ?, keywords = ?, modseq = ? "
                            "WHERE mailbox_id = ? AND uid = ?",
                            (new_bits, encode_keywords(new_kw), modseq, mailbox_id, row[0]),
                        )
                        updated.append(self._meta(
                            (row[0], modseq, new_bits, encode_keywords(new_kw), *row[4:])
                        ))
            except BaseException:
                await self._rollback()
                raise
            await self._commit()
        if updated:
            self._emit("flags_changed", await self._mailbox_name(mailbox_id),
                       [meta.uid for meta in updated])
        return FlagUpdate(tuple(updated), tuple(failed))

    async def _record_expunged(self, mailbox_id: int, uids: Sequence[int]) -> int:
        modseq = await self._bump_modseq(mailbox_id)
        await self.db.executemany(
            "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES (?, ?, ?)",
            [(mailbox_id, uid, modseq) for uid in uids],
        )
        await self._forget_old_expunges(mailbox_id)
        return modseq

    async def _forget_old_expunges(self, mailbox_id: int) -> None:
        """Keep the newest ``expunged_kept`` records; whole MODSEQs go, and the floor rises.

        Expunges sharing a MODSEQ are forgotten together, so for any MODSEQ at or above the
        floor the table still holds every later expunge.
        """
        row = await self._row(
            "SELECT modseq FROM expunged WHERE mailbox_id = ? ORDER BY modseq DESC "
            "LIMIT 1 OFFSET ?", (mailbox_id, self.expunged_kept),
        )
        if row is None:
            return
        await self.db.execute("DELETE FROM expunged WHERE mailbox_id = ? AND modseq <= ?",
                              (mailbox_id, row[0]))
        await self.db.execute(
            "UPDATE mailbox SET expunged_floor = max(expunged_floor, ?) WHERE id = ?",
            (row[0], mailbox_id),
        )

    async def expunge(self, mailbox_id: int, uids: Sequence[int]) -> list[int]:
        """Remove messages for good; returns the UIDs that were really there."""
        async with self.lock:
            await self._begin()
            try:
                present: list[int] = []
                for chunk in _chunks(sorted(set(uids))):
                    rows = await self._rows(
                        f"SELECT uid FROM message WHERE mailbox_id = ? AND uid IN "
                        f"({_placeholders(len(chunk))})", (mailbox_id, *chunk),
                    )
                    found = [r[0] for r in rows]
                    if found:
                        await self.db.execute(
                            f"DELETE FROM message WHERE mailbox_id = ? AND uid IN "
                            f"({_placeholders(len(found))})", (mailbox_id, *found),
                        )
                    present.extend(found)
                if present:
                    await self._record_expunged(mailbox_id, present)
            except BaseException:
                await self._rollback()
                raise
            await self._commit()
        if present:
            self._emit("expunged", await self._mailbox_name(mailbox_id), sorted(present))
        return sorted(present)

    async def expunged_since(self, mailbox_id: int, modseq: int) -> list[int] | None:
        """UIDs expunged after ``modseq``; None if expunges that old are forgotten.

        On None, every UID below UIDNEXT that is not in the mailbox now (:meth:`uids`) has
        been expunged at some time: UIDs are handed out one by one and never reused.
        """
        floor = await self._row("SELECT expunged_floor FROM mailbox WHERE id = ?",
                                (mailbox_id,))
        if floor is not None and modseq < floor[0]:
            return None
        rows = await self._rows(
            "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
            (mailbox_id, modseq),
        )
        return [r[0] for r in rows]

    async def uids(self, mailbox_id: int) -> list[int]:
        """The UIDs in a mailbox now, ascending."""
        rows = await self._rows("SELECT uid FROM message WHERE mailbox_id = ? ORDER BY uid",
                                (mailbox_id,))
        return [r[0] for r in rows]

    async def copy(
        self, mailbox_id: int, uids: Sequence[int], target: str
    ) -> tuple[MailboxInfo, list[tuple[int, int]]]:
        """Copy messages (sharing their bodies) keeping flags and INTERNALDATE."""
        target_name = validate_mailbox_name(target)
        async with self.lock:
            dest = await self._row("SELECT id, uidnext, highestmodseq FROM mailbox WHERE name = ?",
                                   (target_name,))
            if dest is None:
                raise MailboxNotFound(f"no mailbox {target!r}")
            dest_id, next_uid, modseq = dest[0], dest[1], dest[2] + 1
            rows: list[Any] = []
            for chunk in _chunks(sorted(set(uids))):
                rows.extend(await self._rows(
                    "SELECT uid, body_id, flags, keywords, internaldate, internaldate_tz, size "
                    f"FROM message WHERE mailbox_id = ? AND uid IN ({_placeholders(len(chunk))}) "
                    "ORDER BY uid", (mailbox_id, *chunk),
                ))
            await self._check_quota(sum(r[6] for r in rows), len(rows))
            mapping: list[tuple[int, int]] = []
            now = time.time()
            await self._begin()
            try:
                for uid, body_id, flags, keywords, idate, idate_tz, size in rows:
                    await self.db.execute(
                        "INSERT INTO message(mailbox_id, uid, body_id, modseq, flags, keywords, "
                        "internaldate, internaldate_tz, savedate, size) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (dest_id, next_uid, body_id, modseq, flags, keywords, idate, idate_tz,
                         now, size),
                    )
                    mapping.append((uid, next_uid))
                    next_uid += 1
                if mapping:
                    await self.db.execute(
                        "UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?",
                        (next_uid, modseq, dest_id),
                    )
            except BaseException as exc:
                await self._abort(exc)
                raise
            await self._commit()
        info = await self.mailbox_by_id(dest_id)
        assert info is not None
        if mapping:
            self._emit("message_stored", info.name, [new for _old, new in mapping])
        return info, mapping

    async def claim_recent(
        self, mailbox_id: int, claim: bool = True, upto: int | None = None
    ) -> int:
        """Return the first UID that is \\Recent for this session, and claim them (RFC 3501).

        The first session to select a mailbox after new mail arrives sees those messages as
        recent; the watermark then moves so no later session does. ``upto`` is one past the
        last UID the session has read, so mail that arrived after that read is left for the
        session that will hear of it first. ``claim=False`` only looks: EXAMINE must not take
        \\Recent away from the next session.
        """
        async with self.lock:
            row = await self._row("SELECT first_recent_uid, uidnext FROM mailbox WHERE id = ?",
                                  (mailbox_id,))
            if row is None:
                raise MailboxNotFound("mailbox vanished")
            target = row[1] if upto is None else min(upto, row[1])
            if claim and row[0] < target:
                await self.db.execute("UPDATE mailbox SET first_recent_uid = ? WHERE id = ?",
                                      (target, mailbox_id))
            return int(row[0])

    async def search(
        self, mailbox_id: int, where: str, params: Sequence[Any], with_text: bool = False
    ) -> list[tuple[int, int]]:
        """(uid, modseq) of messages matching a condition from :mod:`.search`.

        The condition may use the aliases g (message), b (body) and, with ``with_text``,
        t (the searchable body text).
        """
        text_join = "LEFT JOIN body_text t ON t.body_id = g.body_id " if with_text else ""
        rows = await self._rows(
            "SELECT g.uid, g.modseq FROM message g JOIN body b ON b.id = g.body_id "
            f"{text_join}WHERE g.mailbox_id = ? AND ({where}) ORDER BY g.uid",
            (mailbox_id, *params),
        )
        return [(r[0], r[1]) for r in rows]

    async def move(
        self, mailbox_id: int, uids: Sequence[int], target: str
    ) -> tuple[MailboxInfo, list[tuple[int, int]]]:
        """MOVE: copy then expunge the source messages (two commits; a crash in between leaves
        a copy in both folders, never in neither)."""
        info, mapping = await self.copy(mailbox_id, uids, target)
        await self.expunge(mailbox_id, [old for old, _new in mapping])
        return info, mapping

    async def x_uidls(self, mailbox_id: int) -> dict[int, str]:
        """UID -> X-UIDL header value, for messages migrated from another POP3 server."""
        rows = await self._rows(
            "SELECT g.uid, b.x_uidl FROM message g JOIN body b ON b.id = g.body_id "
            "WHERE g.mailbox_id = ? AND b.x_uidl IS NOT NULL", (mailbox_id,),
        )
        return {r[0]: r[1] for r in rows}

    async def status_counts(self, mailbox_id: int) -> tuple[int, int, int]:
        """(recent, deleted, deleted bytes) for STATUS RECENT, DELETED and DELETED-STORAGE."""
        row = await self._row(
            "SELECT COALESCE(SUM(g.uid >= m.first_recent_uid), 0), "
            "COALESCE(SUM((g.flags & 8) != 0), 0), "
            "COALESCE(SUM(CASE WHEN (g.flags & 8) != 0 THEN g.size ELSE 0 END), 0) "
            "FROM mailbox m LEFT JOIN message g ON g.mailbox_id = m.id WHERE m.id = ?",
            (mailbox_id,),
        )
        return int(row[0]), int(row[1]), int(row[2])
