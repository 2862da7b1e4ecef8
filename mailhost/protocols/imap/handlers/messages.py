"""Selected-state commands: FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE, CLOSE, UNSELECT,
CHECK and IDLE (RFC 3501 §6.4, 2177, 4315, 4731, 5182, 6851, 7162)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from mailhost.connection import IdleTimeout
from mailhost.linebuffer import LineTooLong
from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.fetch import fetch_responses, sets_seen
from mailhost.protocols.imap.fetchatt import BinarySection, BinarySize, FetchAttribute
from mailhost.protocols.imap.searchkeys import HasFlag, ModSeqAtLeast, SearchKey
from mailhost.protocols.imap.sequence import format_uid_set
from mailhost.protocols.imap.session import ImapSession, may_expunge
from mailhost.protocols.imap.state import State
from mailhost.protocols.imap.vanished import ranges_bytes, vanished_since
from mailhost.protocols.imap.wire import quoted
from mailhost.store.interface import FlagMode
from mailhost.store.sqlite import views
from mailhost.store.sqlite.search import SearchScope, compile_search

STORE_MODES: dict[cmd.StoreMode, FlagMode] = {
    cmd.StoreMode.REPLACE: "set", cmd.StoreMode.ADD: "add", cmd.StoreMode.REMOVE: "remove",
}


async def fetch(session: ImapSession, command: cmd.Fetch) -> None:
    mail = session.require_mail()
    box = session.require_selected()
    if any(isinstance(item, BinarySection | BinarySize) for item in command.attributes):
        session.bad(command, "BINARY is not supported")
        return
    if (command.changedsince is not None or command.vanished) and not session.condstore:
        session.enabled.add("CONDSTORE")  # RFC 7162 §3.1: CHANGEDSINCE enables CONDSTORE
    if command.vanished and not (command.uid and session.qresync):
        session.bad(command, "VANISHED needs UID FETCH with QRESYNC enabled")
        return
    uids = box.resolve(command.sequence, command.uid)
    items = list(command.attributes)
    if command.uid and FetchAttribute.UID not in items:
        items.insert(0, FetchAttribute.UID)
    if command.changedsince is not None:
        if FetchAttribute.MODSEQ not in items:
            items.append(FetchAttribute.MODSEQ)
        if command.vanished:
            gone = await vanished_since(
                mail, box.info.id, command.changedsince, box.info.uidnext,
                within=command.sequence,
            )
            if gone:
                session.untagged(b"VANISHED (EARLIER) " + ranges_bytes(gone))
    if not box.read_only and any(sets_seen(item) for item in items):
        unseen = await views.unseen_among(mail, box.info.id, uids)
        if unseen:
            update = await mail.store_flags(box.info.id, unseen, "add", ["\\Seen"])
            box.note_own_updates(update.updated)
            if FetchAttribute.FLAGS not in items:
                items.append(FetchAttribute.FLAGS)
    missing: list[int] = []
    async for chunk in fetch_responses(mail, box, uids, items, missing, command.changedsince):
        session.send(chunk)
        await session.channel.drain()
    if missing:
        # RFC 2180 §4.1.2 and RFC 5530: their data is gone; the client learns why at the next
        # command that may carry EXPUNGE.
        await session.report_changes(allow_expunge=may_expunge(command))
        session.no(command, "some of the messages were expunged by another session",
                   b"EXPUNGEISSUED")
        return
    await session.complete(command)


async def store(session: ImapSession, command: cmd.Store) -> None:
    mail = session.require_mail()
    box = session.require_selected()
    if box.read_only:
        session.no(command, "mailbox is read-only", b"READ-ONLY")
        return
    if command.unchangedsince is not None:
        session.enabled.add("CONDSTORE")
    uids = box.resolve(command.sequence, command.uid)
    update = await mail.store_flags(box.info.id, uids, STORE_MODES[command.mode],
                                    command.flags, command.unchangedsince)
    box.note_own_updates(update.updated)
    failed = set(update.failed_uids)
    if not command.silent or session.condstore:
        changed = {meta.uid: meta for meta in update.updated}
        # Unchanged messages are reported too (without .SILENT): read their flags back.
        rest = [] if command.silent else [u for u in uids if u not in changed
                                          and u not in failed]
        current = {row[0]: row for row in await views.read_flags(mail, box.info.id, rest)}
        for uid in uids:
            if uid in failed or box.seq_of(uid) is None:
                continue
            meta = changed.get(uid)
            if command.silent:
                if meta is not None:  # RFC 7162 §3.1.3: the new MODSEQ even when silent
                    uid_part = b"UID %d " % uid if command.uid else b""
                    session.send(b"* %d FETCH (%sMODSEQ (%d))\r\n"
                                 % (box.seq_of(uid) or 0, uid_part, meta.modseq))
            elif meta is not None:
                session.send(box.meta_flags_line(meta, with_uid=command.uid,
                                                 modseq=session.condstore))
            elif (row := current.get(uid)) is not None:
                session.send(box.row_flags_line(row, with_uid=command.uid,
                                                modseq=session.condstore))
    code = None
    if failed:
        numbers = sorted(failed) if command.uid else sorted(
            seq for uid in failed if (seq := box.seq_of(uid)) is not None)
        code = b"MODIFIED " + format_uid_set(numbers)
    await session.complete(command, "completed", code)


async def _search_uids(
    session: ImapSession, key: SearchKey
) -> tuple[list[int], list[int], int]:
    """Matching UIDs the client knows about, their sequence numbers, and the highest MODSEQ
    among them."""
    mail = session.require_mail()
    box = session.require_selected()
    scope = SearchScope(
        resolve_sequence=lambda seqset: box.resolve(seqset, uid=False),
        resolve_uids=lambda seqset: box.resolve(seqset, uid=True),
        recent=set(box.recent_uids()) if _uses(key, _is_recent_key) else set(),
    )
    compiled = compile_search(key, scope)
    rows = await mail.search(box.info.id, compiled.where, compiled.params, compiled.needs_text)
    uids: list[int] = []
    seqs: list[int] = []
    highest = 0
    for (uid, modseq), seq in zip(rows, box.seqs_of([row[0] for row in rows]), strict=True):
        if seq:
            uids.append(uid)
            seqs.append(seq)
            highest = max(highest, modseq)
    return uids, seqs, highest


def _uses(key: SearchKey, test: Callable[[SearchKey], bool]) -> bool:
    """Whether ``key`` or any key inside it passes ``test``."""
    if test(key):
        return True
    children = [getattr(key, name) for name in ("key", "left", "right") if hasattr(key, name)]
    children.extend(getattr(key, "keys", ()))
    return any(_uses(child, test) for child in children)


def _is_modseq_key(key: SearchKey) -> bool:
    return isinstance(key, ModSeqAtLeast)


def _is_recent_key(key: SearchKey) -> bool:
    """RECENT, NEW and OLD: only they need the session's \\Recent UIDs listed."""
    return isinstance(key, HasFlag) and key.flag.lower() == "\\recent"


def _saved_result(uids: list[int], options: frozenset[cmd.SearchReturn]) -> tuple[int, ...]:
    """What SAVE keeps (RFC 5182 §2.1): with MIN and/or MAX alone just those, else all."""
    extremes = {cmd.SearchReturn.MIN, cmd.SearchReturn.MAX}
    if not uids or options & {cmd.SearchReturn.ALL, cmd.SearchReturn.COUNT} \
            or not options & extremes:
        return tuple(uids)
    kept = {uids[0]} if cmd.SearchReturn.MIN in options else set()
    if cmd.SearchReturn.MAX in options:
        kept.add(uids[-1])
    return tuple(sorted(kept))


async def search(session: ImapSession, command: cmd.Search) -> None:
    box = session.require_selected()
    options = command.return_options
    if options is not None and cmd.SearchReturn.SAVE in options:
        box.saved_search = ()  # RFC 5182 §2.1: if this SEARCH fails, "$" is empty
    uids, seqs, highest = await _search_uids(session, command.key)
    numbers = uids if command.uid else seqs
    modseq = _uses(command.key, _is_modseq_key)
    if modseq:
        session.enabled.add("CONDSTORE")
    if options is None:
        line = b"SEARCH" + "".join([f" {n}" for n in numbers]).encode()
        if modseq and numbers:
            line += b" (MODSEQ %d)" % highest
        session.untagged(line)
        await session.complete(command)
        return
    if cmd.SearchReturn.SAVE in options:
        box.saved_search = _saved_result(uids, options)
    parts = [b"(TAG " + quoted(command.tag) + b")"]
    if command.uid:
        parts.append(b"UID")
    if numbers:
        if cmd.SearchReturn.MIN in options:
            parts.append(b"MIN %d" % numbers[0])
        if cmd.SearchReturn.MAX in options:
            parts.append(b"MAX %d" % numbers[-1])
        if cmd.SearchReturn.ALL in options:
            parts.append(b"ALL " + format_uid_set(numbers))
    if cmd.SearchReturn.COUNT in options:
        parts.append(b"COUNT %d" % len(numbers))
    if modseq and numbers:
        parts.append(b"MODSEQ %d" % highest)
    if options != {cmd.SearchReturn.SAVE}:
        session.untagged(b"ESEARCH " + b" ".join(parts))
    await session.complete(command)


async def copy(session: ImapSession, command: cmd.Copy) -> None:
    mail = session.require_mail()
    box = session.require_selected()
    uids = box.resolve(command.sequence, command.uid)
    if await mail.get_mailbox(command.mailbox) is None:
        session.no(command, "target mailbox does not exist", b"TRYCREATE")
        return
    info, mapping = await mail.copy(box.info.id, uids, command.mailbox)
    code = None
    if mapping:
        code = (b"COPYUID %d " % info.uidvalidity + format_uid_set([m[0] for m in mapping])
                + b" " + format_uid_set([m[1] for m in mapping]))
    await session.complete(command, "completed", code)


async def move(session: ImapSession, command: cmd.Move) -> None:
    mail = session.require_mail()
    box = session.require_selected()
    if box.read_only:
        session.no(command, "mailbox is read-only", b"READ-ONLY")
        return
    uids = box.resolve(command.sequence, command.uid)
    if await mail.get_mailbox(command.mailbox) is None:
        session.no(command, "target mailbox does not exist", b"TRYCREATE")
        return
    info, mapping = await mail.move(box.info.id, uids, command.mailbox)
    if mapping:
        session.untagged(b"OK [COPYUID %d " % info.uidvalidity
                         + format_uid_set([m[0] for m in mapping]) + b" "
                         + format_uid_set([m[1] for m in mapping]) + b"] moved")
    await session.report_changes(allow_expunge=True)
    session.tagged(command.tag, b"OK", "MOVE completed")


async def _expunge_deleted(session: ImapSession, only: Sequence[int] | None) -> None:
    mail = session.require_mail()
    box = session.require_selected()
    # Only messages this session knows of: one delivered meanwhile is not the client's to
    # expunge yet.
    deleted = [uid for uid in await views.deleted_among(mail, box.info.id, only)
               if box.seq_of(uid) is not None]
    if deleted:
        await mail.expunge(box.info.id, deleted)


async def expunge(session: ImapSession, command: cmd.Expunge) -> None:
    box = session.require_selected()
    if box.read_only:
        session.no(command, "mailbox is read-only", b"READ-ONLY")
        return
    only = None
    if command.uid_set is not None:
        only = box.resolve(command.uid_set, uid=True)
    await _expunge_deleted(session, only)
    if not session.qresync:
        await session.complete(command)
        return
    # RFC 7162 §3.2.7: with QRESYNC the tagged OK names the MODSEQ the client is now in step
    # with, everything up to it having just been reported.
    await session.report_changes(allow_expunge=True)
    code = b"HIGHESTMODSEQ %d" % box.known_modseq if session.selected is box else None
    session.tagged(command.tag, b"OK", "EXPUNGE completed", code)


async def close(session: ImapSession, command: cmd.Close) -> None:
    box = session.require_selected()
    if not box.read_only:
        await _expunge_deleted(session, None)  # silently: no EXPUNGE responses (RFC 3501)
    session.selected = None
    session.state = State.AUTHENTICATED
    session.tagged(command.tag, b"OK", "CLOSE completed")


async def unselect(session: ImapSession, command: cmd.Unselect) -> None:
    session.selected = None
    session.state = State.AUTHENTICATED
    session.tagged(command.tag, b"OK", "UNSELECT completed")


async def check(session: ImapSession, command: cmd.Check) -> None:
    await session.complete(command)


async def idle(session: ImapSession, command: cmd.Idle) -> None:
    """RFC 2177: push changes as they happen until the client sends DONE.

    The session waits on the store's change signal, which commits in this process set at
    once and a per-account watcher sets for other processes' commits; nothing here polls.
    ``[imap] idle_timeout`` runs from the start of each IDLE, so a client that re-issues IDLE
    every 29 minutes as RFC 2177 asks is never cut off.
    """
    mail = session.require_mail()
    session.send(b"+ idling\r\n")
    generation = mail.generation  # read before reporting, so no change slips in between
    await session.report_changes(allow_expunge=True)
    await session.channel.drain()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + session.settings.idle_timeout
    reader = asyncio.ensure_future(session.channel.read_line(None))
    waiter: asyncio.Future[bool] | None = None
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise IdleTimeout()
            waiter = asyncio.ensure_future(mail.wait_for_change(generation, remaining))
            done, _ = await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                line = reader.result()
                break
            if waiter.result():
                generation = mail.generation
                await session.report_changes(allow_expunge=True)
                await session.channel.drain()
    finally:
        for task in (reader, waiter):
            if task is None:
                continue
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            elif not task.cancelled():
                # The client may have gone (ConnectionClosed) while a push was being written:
                # that error is the session's end, not a task exception nobody retrieved.
                task.exception()
    if isinstance(line, LineTooLong) or line.strip().upper() != b"DONE":
        session.bad(command, "expected DONE")
        return
    await session.complete(command, "terminated")
