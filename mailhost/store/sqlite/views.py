"""SQL reads behind IMAP's SELECT, refresh and FETCH, each one hop to the database thread.

Every coroutine here runs a single sync function through :meth:`SqliteMailStore.run`, so a
SELECT of a 100,000-message folder is one round trip, not one per statement. The functions
read integers and stored bytes only; nothing builds a ``MessageMeta`` per message.

A per-account cache of each mailbox's UID list (:class:`_Snapshot`) lets a repeated SELECT
skip the scan: it stays valid while (UIDNEXT, HIGHESTMODSEQ) are unchanged, because every
append, copy, expunge and flag change moves one of them, whichever process made it. When they
moved, the new UIDs (``uid >= old UIDNEXT``) and the expunges after the old HIGHESTMODSEQ bring
the cached list up to date; a full scan is needed only when those expunges are forgotten.
A SELECT repeated while nothing at all was committed (the WAL-index header has not moved)
is answered from what the last one read, with no trip to the database thread.
"""

from __future__ import annotations

import bisect
import itertools
import sqlite3
import weakref
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mailhost.store.flags import DELETED, SEEN
from mailhost.store.interface import MailboxInfo
from mailhost.store.sqlite.changes import wal_index_header
from mailhost.store.sqlite.mailstore import claim_recent_in
from mailhost.store.sqlite.schema import SUBSCRIBED_SQL

if TYPE_CHECKING:
    from mailhost.store.sqlite.mailstore import SqliteMailStore

T = TypeVar("T")
JSON_CHUNK = 2000  # UIDs per json_each parameter when a UID list is sparse

FlagRow = tuple[int, int, int, str]
"""(uid, modseq, flag bits, encoded keywords) of one message."""


@dataclass(frozen=True, slots=True)
class FlagRunRenderer:
    """Renders runs of flags-only FETCH responses for one session (see :func:`_flag_run`)."""

    render: Callable[[FlagRun], bytes | None]
    """The response lines of a run of messages; None when it cannot render that run."""
    known: Sequence[int]  # the session's UIDs, ascending: what its sequence numbers count
    with_uid: bool  # the lines carry UID, so the run needs the UIDs' digits


FLAG_RUN_ROWS = 512  # messages per FlagRunRenderer call: keeps a small first batch small
MIN_LINE_BYTES = 16  # a FETCH response line is longer: "* 1 FETCH (FLAGS ())" and CRLF


def uid_array(values: Iterator[int] | Sequence[int] = ()) -> array[int]:
    """UIDs as 4-byte integers: a 100,000-message index costs 400 KB, not 100,000 objects."""
    return array("I", values)


def _read(conn: sqlite3.Connection, fn: Callable[[], T]) -> T:
    """Run ``fn`` in one read transaction, so its statements see one consistent snapshot
    even when another process commits meanwhile."""
    conn.execute("BEGIN")
    try:
        return fn()
    finally:
        conn.execute("COMMIT")


# -- SELECT ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One mailbox's UIDs and what SELECT reports about them, at (uidnext, highestmodseq).

    ``uids`` is shared with every session that selected it, so it is never changed in place.
    """

    uidnext: int
    highestmodseq: int
    uids: array[int]
    keywords: frozenset[str]
    first_unseen: int  # a UID; 0 when every message is \Seen


@dataclass(frozen=True, slots=True)
class _Opened:
    """What one SELECT read about a mailbox, and the WAL-index header read just before it on
    connection ``epoch``: while that connection stays open and the header has not moved,
    nothing was committed since, by any process, so the next SELECT may answer the same."""

    header: bytes
    epoch: int
    row: tuple[Any, ...]  # the mailbox row, as select_mailbox reads it
    snapshot: _Snapshot


@dataclass(slots=True)
class _AccountCache:
    snapshots: dict[int, _Snapshot] = field(default_factory=dict)  # by mailbox id
    opened: dict[str, _Opened] = field(default_factory=dict)  # by mailbox name


_CACHES: weakref.WeakKeyDictionary[SqliteMailStore, _AccountCache] = (
    weakref.WeakKeyDictionary()
)


def _keywords(conn: sqlite3.Connection, mailbox_id: int, since: int | None) -> set[str]:
    """Keywords set on the mailbox's messages (only those changed after MODSEQ ``since``)."""
    if since is None:
        # In UID order, the planner walks the UID index, whose rows lie in table order.
        rows = conn.execute("SELECT keywords FROM message WHERE mailbox_id = ? "
                            "AND keywords <> '' ORDER BY uid", (mailbox_id,))
    else:
        rows = conn.execute("SELECT keywords FROM message WHERE mailbox_id = ? AND modseq > ? "
                            "AND keywords <> ''", (mailbox_id, since))
    return {word for text in set(itertools.chain.from_iterable(rows)) for word in text.split()}


def _first_unseen(conn: sqlite3.Connection, mailbox_id: int) -> int:
    # Written exactly as the partial index message_unseen's condition, so SQLite can use it.
    row = conn.execute("SELECT uid FROM message WHERE mailbox_id = ? AND (flags & 1) = 0 "
                       "ORDER BY uid LIMIT 1", (mailbox_id,)).fetchone()
    return int(row[0]) if row else 0


def _all_uids(conn: sqlite3.Connection, mailbox_id: int) -> array[int]:
    cursor = conn.execute("SELECT uid FROM message WHERE mailbox_id = ? ORDER BY uid",
                          (mailbox_id,))
    return uid_array(itertools.chain.from_iterable(cursor))


def _snapshot(
    conn: sqlite3.Connection, cache: dict[int, _Snapshot], mailbox_id: int, uidnext: int,
    modseq: int, expunged_floor: int,
) -> _Snapshot:
    """The mailbox's snapshot at (uidnext, modseq), from the cache where possible."""
    old = cache.get(mailbox_id)
    if old is not None and (old.uidnext, old.highestmodseq) == (uidnext, modseq):
        return old
    if old is not None and expunged_floor <= old.highestmodseq <= modseq \
            and old.uidnext <= uidnext:
        gone = {uid for (uid,) in conn.execute(
            "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ?",
            (mailbox_id, old.highestmodseq))}
        new = uid_array(itertools.chain.from_iterable(conn.execute(
            "SELECT uid FROM message WHERE mailbox_id = ? AND uid >= ? ORDER BY uid",
            (mailbox_id, old.uidnext))))
        kept = uid_array(uid for uid in old.uids if uid not in gone) if gone else old.uids
        uids = kept + new if new else kept
        keywords = old.keywords | _keywords(conn, mailbox_id, old.highestmodseq)
    else:
        uids = _all_uids(conn, mailbox_id)
        keywords = frozenset(_keywords(conn, mailbox_id, None))
    snapshot = _Snapshot(uidnext, modseq, uids, frozenset(keywords),
                         _first_unseen(conn, mailbox_id))
    cache[mailbox_id] = snapshot
    return snapshot


@dataclass(frozen=True, slots=True)
class Selection:
    """What SELECT/EXAMINE reports, read in one hop."""

    info: MailboxInfo  # counts as read with the UIDs (messages = len(uids))
    uids: array[int]  # ascending; shared, never to be changed in place
    keywords: tuple[str, ...]  # sorted: every keyword in use (a superset once some are gone)
    first_unseen: int  # UID of the first message without \Seen, 0 if none
    first_recent: int  # UIDs from here on are \Recent for this session


_MAILBOX_ROW = ("SELECT id, name, uidvalidity, uidnext, highestmodseq, " + SUBSCRIBED_SQL
                + ", special_use, first_recent_uid, expunged_floor, unseen, size "
                "FROM mailbox WHERE name = ?")


def _selection(row: tuple[Any, ...], snap: _Snapshot, first_recent: int) -> Selection:
    info = MailboxInfo(id=row[0], name=row[1], uidvalidity=row[2], uidnext=row[3],
                       highestmodseq=row[4], subscribed=bool(row[5]), special_use=row[6],
                       messages=len(snap.uids), unseen=row[9], size=row[10])
    return Selection(info, snap.uids, tuple(sorted(snap.keywords)), snap.first_unseen,
                     first_recent)


def _unchanged(mail: SqliteMailStore, opened: _Opened) -> bool:
    """Nothing was committed to the account since ``opened`` was read.

    The header is read before the connection is checked: if the same connection is still
    open now, it was open while the header was read, so the header was the live one.
    """
    header = wal_index_header(mail.path)
    return header == opened.header and mail.connection_epoch == opened.epoch


async def select_mailbox(mail: SqliteMailStore, name: str, claim: bool) -> Selection | None:
    """Open a mailbox (``name`` already validated): its state, its UIDs, and \\Recent,
    claimed for this session unless ``claim`` is False (EXAMINE). None if it does not exist.

    When nothing was committed since the last SELECT of the mailbox read it and no \\Recent
    is left to claim, that answer is given again without a trip to the database thread.
    """
    cache = _CACHES.get(mail)
    if cache is None:
        cache = _CACHES[mail] = _AccountCache()
    opened = cache.opened.get(name)
    if opened is not None and _unchanged(mail, opened):
        row = opened.row
        if not claim or row[7] >= row[3]:
            return _selection(row, opened.snapshot, int(row[7]))

    def read(conn: sqlite3.Connection) -> Selection | None:
        # Read before the transaction: a commit after this moves it (see _unchanged).
        header, epoch = wal_index_header(mail.path), mail.connection_epoch

        def snapshot() -> tuple[Any, _Snapshot] | None:
            row = conn.execute(_MAILBOX_ROW, (name,)).fetchone()
            if row is None:
                return None
            return row, _snapshot(conn, cache.snapshots, row[0], row[3], row[4], row[8])

        found = _read(conn, snapshot)
        if found is None:
            cache.opened.pop(name, None)
            return None
        row, snap = found
        if header is not None and epoch is not None:
            cache.opened[name] = _Opened(header, epoch, tuple(row), snap)
        first_recent = int(row[7])
        if claim and first_recent < row[3]:
            first_recent = claim_recent_in(conn, row[0], row[3])  # a commit: header moves
        return _selection(row, snap, first_recent)

    return await mail.run(read)


# -- catching up --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Changes:
    """What moved in a mailbox since a session's last look."""

    uidnext: int
    highestmodseq: int
    changed: list[FlagRow]  # rows with a newer MODSEQ (new messages included), by UID
    expunged: list[int]  # UIDs of the session's that are gone, ascending
    first_recent: int  # for the new messages: UIDs from here on are \Recent for the session


async def changes_since(
    mail: SqliteMailStore, mailbox_id: int, uidnext: int, modseq: int, known: array[int],
    claim: bool,
) -> Changes | None:
    """Changes after (``uidnext``, ``modseq``), or None if the mailbox is gone.

    ``known`` is the session's UID list: it tells which changed rows are new (their \\Recent
    is claimed up to the last of them, so later mail stays recent for whoever hears of it
    first) and, when the store no longer remembers expunges that old, which UIDs are gone.
    """
    max_known = known[-1] if known else 0

    def read(conn: sqlite3.Connection) -> Changes | None:
        row = conn.execute("SELECT uidnext, highestmodseq, expunged_floor, first_recent_uid "
                           "FROM mailbox WHERE id = ?", (mailbox_id,)).fetchone()
        if row is None:
            return None
        if (row[0], row[1]) == (uidnext, modseq):
            return Changes(uidnext, modseq, [], [], row[3])

        def collect() -> tuple[Any, list[FlagRow], list[int]]:
            state = conn.execute(
                "SELECT uidnext, highestmodseq, expunged_floor, first_recent_uid "
                "FROM mailbox WHERE id = ?", (mailbox_id,)).fetchone()
            changed = conn.execute(
                "SELECT uid, modseq, flags, keywords FROM message "
                "WHERE mailbox_id = ? AND modseq > ? ORDER BY uid", (mailbox_id, modseq),
            ).fetchall()
            if state is not None and modseq < state[2]:  # forgotten: whatever is not there
                present = set(itertools.chain.from_iterable(conn.execute(
                    "SELECT uid FROM message WHERE mailbox_id = ?", (mailbox_id,))))
                gone = [uid for uid in known if uid not in present]
            else:
                gone = [uid for (uid,) in conn.execute(
                    "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? "
                    "AND uid <= ? ORDER BY uid", (mailbox_id, modseq, max_known))]
            return state, changed, gone

        state, changed, gone = _read(conn, collect)
        if state is None:
            return None
        first_recent = int(state[3])
        if changed and changed[-1][0] > max_known and claim:
            first_recent = claim_recent_in(conn, mailbox_id, changed[-1][0] + 1)
        return Changes(state[0], state[1], changed, gone, first_recent)

    return await mail.run(read)


# -- per-message reads ----------------------------------------------------------------------


def _uid_windows(
    uids: Sequence[int], start: int = 0, column: str = "g.uid", size: int = JSON_CHUNK,
) -> Iterator[tuple[int, str, tuple[Any, ...]]]:
    """SQL conditions on ``column`` that together cover ``uids[start:]`` (ascending), in
    order, each with the index in ``uids`` where its window ends.

    A dense run becomes a BETWEEN range, which walks the (mailbox_id, uid) index in order;
    a sparse one a json_each list, so ``1,100000`` does not scan what lies in between. Rows
    inside a range that were not asked for must be skipped by the caller.
    """
    for first in range(start, len(uids), size):
        end = min(first + size, len(uids))
        low, high = uids[first], uids[end - 1]
        if high - low + 1 <= 2 * (end - first):
            yield end, f"{column} BETWEEN ? AND ?", (low, high)
        else:
            yield end, f"{column} IN (SELECT value FROM json_each(?))", (
                "[" + ",".join(map(str, uids[first:end])) + "]",)


def flag_rows(conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int],
              condition: str = "1") -> list[FlagRow]:
    """(uid, modseq, flags, keywords) of those of ``uids`` (ascending) that exist and match
    ``condition`` (SQL on alias g)."""
    wanted = set(uids)
    out: list[FlagRow] = []
    for _end, where, params in _uid_windows(uids):
        out.extend(row for row in conn.execute(
            "SELECT g.uid, g.modseq, g.flags, g.keywords FROM message g "
            f"WHERE g.mailbox_id = ? AND {where} AND {condition} ORDER BY g.uid",
            (mailbox_id, *params)) if row[0] in wanted)
    return out


async def read_flags(mail: SqliteMailStore, mailbox_id: int,
                     uids: Sequence[int]) -> list[FlagRow]:
    """Current flags and MODSEQ of the messages among ``uids`` that still exist."""
    if not uids:
        return []
    return await mail.run(lambda conn: flag_rows(conn, mailbox_id, uids))


async def unseen_among(mail: SqliteMailStore, mailbox_id: int,
                       uids: Sequence[int]) -> list[int]:
    """Those of ``uids`` (ascending) without \\Seen."""
    if not uids:
        return []
    rows = await mail.run(lambda conn: flag_rows(conn, mailbox_id, uids,
                                                   f"(g.flags & {SEEN}) = 0"))
    return [row[0] for row in rows]


async def deleted_among(mail: SqliteMailStore, mailbox_id: int,
                        uids: Sequence[int] | None) -> list[int]:
    """Those of ``uids`` (ascending; None: the whole mailbox) marked \\Deleted, ascending."""
    condition = f"(g.flags & {DELETED}) != 0"
    if uids is None:
        return await mail.run(lambda conn: [uid for (uid,) in conn.execute(
            f"SELECT g.uid FROM message g WHERE g.mailbox_id = ? AND {condition} "
            "ORDER BY g.uid", (mailbox_id,))])
    if not uids:
        return []
    rows = await mail.run(lambda conn: flag_rows(conn, mailbox_id, uids, condition))
    return [row[0] for row in rows]


async def changed_flags(mail: SqliteMailStore, mailbox_id: int, modseq: int) -> list[FlagRow]:
    """Messages with a MODSEQ above ``modseq`` (QRESYNC's catch-up), by UID."""
    return await mail.run(lambda conn: conn.execute(
        "SELECT uid, modseq, flags, keywords FROM message WHERE mailbox_id = ? AND modseq > ? "
        "ORDER BY uid", (mailbox_id, modseq)).fetchall())


# -- FETCH ------------------------------------------------------------------------------------

MESSAGE_COLUMNS = ("uid", "modseq", "flags", "keywords", "size", "internaldate",
                   "internaldate_tz")
BODY_COLUMNS = ("envelope", "body_simple", "bodystructure", "tree", "header_end")
RAW_COLUMN = "raw"
_TABLE_OF = {**{name: "g" for name in MESSAGE_COLUMNS}, **{name: "b" for name in BODY_COLUMNS},
             RAW_COLUMN: "r"}


def fetch_columns(wanted: frozenset[str]) -> tuple[str, ...]:
    """The columns of a FETCH row: ``uid`` first, then those of ``wanted`` in a fixed order.

    Only what is rendered is selected: each extra column costs as much as stepping the row.
    """
    return ("uid", *(name for name in _TABLE_OF if name != "uid" and name in wanted))


def fetch_sql(columns: tuple[str, ...], changedsince: bool, where: str) -> str:
    """The query behind one FETCH window, selecting ``columns`` (from :func:`fetch_columns`).

    The body tables are joined only when some of their columns are wanted. With
    ``changedsince``, ``where`` should test ``+g.uid``, which keeps the planner off the UID
    index so that the MODSEQ index finds the few changed rows.
    """
    tables = {_TABLE_OF[name] for name in columns}
    joins = ""
    if "b" in tables:
        joins += " JOIN body b ON b.id = g.body_id"
    if "r" in tables:
        joins += " JOIN body_raw r ON r.body_id = g.body_id"
    select = ", ".join(f"{_TABLE_OF[name]}.{name}" for name in columns)
    condition = f"g.mailbox_id = ? AND {where}" + (" AND g.modseq > ?" if changedsince else "")
    return f"SELECT {select} FROM message g{joins} WHERE {condition} ORDER BY g.uid"


@dataclass(frozen=True, slots=True)
class FlagRun:
    """Consecutive messages of one FETCH window, each column as read (ASCII digits)."""

    uids: Sequence[int]
    uid_digits: list[bytes]  # empty unless asked for
    flags: list[bytes]  # b"bits" or b"bits keywords"
    modseqs: list[bytes]  # empty unless asked for


# The (mailbox_id, uid) index of UNIQUE (mailbox_id, uid), named by SQLite; see _flag_run.
_UID_INDEX = "sqlite_autoindex_message_1"


def _flag_run(
    conn: sqlite3.Connection, mailbox_id: int, low: int, high: int, wanted: Sequence[int],
    with_uid: bool, with_modseq: bool,
) -> FlagRun | None:
    """The messages ``wanted``, all the session's UIDs from ``low`` to ``high``; None unless
    the mailbox holds exactly those in that range.

    SQLite concatenates each column into one string: building Python objects for three
    columns of 100,000 rows cost five times SQLite's own walk of the index and table. The
    range is read through the UID index (INDEXED BY: no other plan), so the concatenation
    is in UID order. A count is enough to know the rows are ``wanted``: a message gets a UID
    above every UID that existed when it was stored, so nothing in the mailbox below
    ``high`` can be unknown to a session that knows ``high``; the range can only have lost
    messages (expunged by another session), and then the count is short.
    """
    digits = ", CAST(group_concat(g.uid) AS BLOB)" if with_uid else ""
    modseq = ", CAST(group_concat(g.modseq) AS BLOB)" if with_modseq else ""
    found = conn.execute(
        "SELECT count(*), CAST(group_concat(CASE g.keywords WHEN '' THEN g.flags "
        f"ELSE g.flags || ' ' || g.keywords END, char(10)) AS BLOB){digits}{modseq} "
        f"FROM message g INDEXED BY {_UID_INDEX} "
        "WHERE g.mailbox_id = ? AND g.uid BETWEEN ? AND ?",
        (mailbox_id, low, high)).fetchone()
    count = len(wanted)
    if found[0] != count:
        return None
    flags = found[1].split(b"\n")
    columns = [found[2 + n].split(b",") for n in range(with_uid + with_modseq)]
    if len(flags) != count:
        return None  # a keyword with a line break: let the rows answer
    uid_digits = columns[0] if with_uid else []
    modseqs = columns[-1] if with_modseq else []
    return FlagRun(wanted, uid_digits, flags, modseqs)


def range_position(known: Sequence[int], first: int, last: int, count: int) -> int | None:
    """Where ``count`` ascending UIDs of ``known``, from ``first`` to ``last``, stand in it,
    if they are every UID of ``known`` in that range (so their sequence numbers count up
    from the position + 1); else None."""
    position = bisect.bisect_left(known, first)
    end = position + count - 1
    return position if end < len(known) and known[end] == last else None


@dataclass
class FetchBatch:
    """One hop's worth of rendered FETCH responses."""

    data: bytes
    next: int  # index into the requested UIDs where the next batch starts
    missing: list[int]  # requested UIDs the store no longer has and ``gone`` did not answer


async def fetch_batch(
    mail: SqliteMailStore, mailbox_id: int, uids: Sequence[int], start: int,
    columns: tuple[str, ...], changedsince: int | None,
    render: Callable[[Sequence[Any]], bytes], gone: Callable[[int], bytes | None],
    max_bytes: int, render_flags: FlagRunRenderer | None = None,
) -> FetchBatch:
    """Render responses for ``uids[start:]`` (ascending) until ``max_bytes`` are rendered.

    ``render`` turns a row (``columns``, from :func:`fetch_columns`) into a response line;
    ``gone`` answers for a requested UID with no row, in its place, or returns None to have
    it listed as missing. Both run on the database thread, so no row object outlives them.
    With ``changedsince`` only rows with a newer MODSEQ come back, and a requested UID with
    no row is passed over (it may simply be unchanged).

    ``render_flags`` is for a FETCH of flags, UID and MODSEQ only (see :func:`_flag_run`).
    """
    column = "+g.uid" if changedsince is not None else "g.uid"
    # A flags window is read whole (one group_concat row), so a small batch reads a small one.
    window = min(JSON_CHUNK, max(FLAG_RUN_ROWS // 2, max_bytes // MIN_LINE_BYTES))
    extra = (changedsince,) if changedsince is not None else ()

    def run(conn: sqlite3.Connection) -> FetchBatch:
        out: list[bytes] = []
        size = 0
        missing: list[int] = []
        position = start

        def skip_to(uid: int, end: int) -> None:
            nonlocal position
            while position < end and uids[position] < uid:
                if changedsince is None:
                    line = gone(uids[position])
                    if line is None:
                        missing.append(uids[position])
                    else:
                        out.append(line)
                position += 1

        for end, where, params in _uid_windows(uids, start, column, window):
            run = None
            if render_flags is not None and range_position(
                    render_flags.known, uids[position], uids[end - 1], end - position) is not None:
                run = _flag_run(conn, mailbox_id, uids[position], uids[end - 1],
                                uids[position:end], render_flags.with_uid, "modseq" in columns)
            if render_flags is not None:
                for first in range(0, len(run.uids) if run else 0, FLAG_RUN_ROWS):
                    assert run is not None
                    part = slice(first, first + FLAG_RUN_ROWS)
                    data = render_flags.render(FlagRun(
                        run.uids[part], run.uid_digits[part], run.flags[part],
                        run.modseqs[part]))
                    if data is None:  # a run the renderer cannot take; rows take the rest
                        break
                    out.append(data)
                    size += len(data)
                    position += len(run.uids[part])
                    if size >= max_bytes:
                        return FetchBatch(b"".join(out), position, missing)
                if position == end:
                    continue
            sql = fetch_sql(columns, changedsince is not None, where)
            for row in conn.execute(sql, (mailbox_id, *params, *extra)):
                uid = row[0]
                if position >= end or uids[position] != uid:
                    skip_to(uid, end)
                    if position >= end or uids[position] != uid:
                        continue  # inside a range but not asked for
                position += 1
                line = render(row)
                out.append(line)
                size += len(line)
                if size >= max_bytes:
                    return FetchBatch(b"".join(out), position, missing)
            skip_to(uids[end - 1] + 1, end)
        return FetchBatch(b"".join(out), len(uids), missing)

    return await mail.run(run)
