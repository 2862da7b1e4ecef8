"""Selected-state commands: FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE, CLOSE, UNSELECT,
CHECK and IDLE (RFC 3501 §6.4, 2177, 4315, 4731, 5182, 6851, 7162)."""

from __future__ import annotations

import asyncio
import contextlib

from mailhost.connection import IdleTimeout
from mailhost.linebuffer import LineTooLong
from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.fetch import DRAIN_EVERY, fetch_responses, sets_seen
from mailhost.protocols.imap.fetchatt import BinarySection, BinarySize, FetchAttribute
from mailhost.protocols.imap.searchkeys import ModSeqAtLeast, SearchKey
from mailhost.protocols.imap.sequence import format_uid_set
from mailhost.protocols.imap.session import ImapSession
from mailhost.protocols.imap.state import State
from mailhost.protocols.imap.wire import quoted
from mailhost.store.interface import FlagMode
from mailhost.store.sqlite.search import SearchScope, compile_search

STORE_MODES: dict[cmd.StoreMode, FlagMode] = {
    cmd.StoreMode.REPLACE: "set", cmd.StoreMode.ADD: "add", cmd.StoreMode.REMOVE: "remove",
}
IDLE_POLL_SECONDS = 5.0  # also catch changes made by other processes (mailhost deliver)


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
            gone = command.sequence.select(
                await mail.expunged_since(box.info.id, command.changedsince),
                box.max_uid or box.info.uidnext - 1,
            )
            if gone:
                session.untagged(b"VANISHED (EARLIER) " + format_uid_set(gone))
        uids = [u for u in uids if box.meta[u].modseq > command.changedsince]
    if not box.read_only and any(sets_seen(item) for item in items):
        unseen = [u for u in uids if "\\Seen" not in box.meta[u].flags]
        if unseen:
            update = await mail.store_flags(box.info.id, unseen, "add", ["\\Seen"])
            for meta in update.updated:
                box.apply_own_update(meta)
            if FetchAttribute.FLAGS not in items:
                items.append(FetchAttribute.FLAGS)
    count = 0
    async for line in fetch_responses(mail, box, uids, items):
        session.send(line)
        count += 1
        if count % DRAIN_EVERY == 0:
            await session.channel.drain()
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
    changed = {meta.uid for meta in update.updated}
    for meta in update.updated:
        box.apply_own_update(meta)
    failed = set(update.failed_uids)
    for uid in uids:
        if uid in failed or uid not in box.meta:
            continue
        if not command.silent or (session.condstore and uid in changed):
            if command.silent:
                seq = box.seq_of(uid)
                uid_part = b"UID %d " % uid if command.uid else b""
                session.send(b"* %d FETCH (%sMODSEQ (%d))\r\n" % (seq or 0, uid_part,
                                                                   box.meta[uid].modseq))
            else:
                session.send(box.fetch_flags_line(uid, with_uid=command.uid,
                                                  modseq=session.condstore))
    code = None
    if failed:
        numbers = sorted(failed) if command.uid else sorted(
            seq for uid in failed if (seq := box.seq_of(uid)) is not None)
        code = b"MODIFIED " + format_uid_set(numbers)
    await session.complete(command, "completed", code)


async def _search_uids(
    session: ImapSession, key: SearchKey
) -> tuple[list[int], int]:
    """Matching UIDs the client knows about, and the highest MODSEQ among them."""
    mail = session.require_mail()
    box = session.require_selected()
    scope = SearchScope(
        resolve_sequence=lambda seqset: box.resolve(seqset, uid=False),
        resolve_uids=lambda seqset: box.resolve(seqset, uid=True),
        recent=box.recent,
    )
    compiled = compile_search(key, scope)
    rows = await mail.search(box.info.id, compiled.where, compiled.params, compiled.needs_text)
    known = [(uid, modseq) for uid, modseq in rows if uid in box.meta]
    return [uid for uid, _ in known], max((m for _, m in known), default=0)


def _uses_modseq(key: SearchKey) -> bool:
    if isinstance(key, ModSeqAtLeast):
        return True
    children = [getattr(key, name) for name in ("key", "left", "right") if hasattr(key, name)]
    children.extend(getattr(key, "keys", ()))
    return any(_uses_modseq(child) for child in children)


async def search(session: ImapSession, command: cmd.Search) -> None:
    box = session.require_selected()
    uids, highest = await _search_uids(session, command.key)
    numbers = uids if command.uid else [box.seq_of(uid) or 0 for uid in uids]
    modseq = _uses_modseq(command.key)
    if modseq:
        session.enabled.add("CONDSTORE")
    options = command.return_options
    if options is None:
        line = b"SEARCH" + b"".join(b" %d" % n for n in numbers)
        if modseq and numbers:
            line += b" (MODSEQ %d)" % highest
        session.untagged(line)
        await session.complete(command)
        return
    if cmd.SearchReturn.SAVE in options:
        if options == {cmd.SearchReturn.SAVE}:
            box.saved_search = tuple(uids)
        elif cmd.SearchReturn.MIN in options and len(options) == 2 and uids:
            box.saved_search = (uids[0],)
        elif cmd.SearchReturn.MAX in options and len(options) == 2 and uids:
            box.saved_search = (uids[-1],)
        else:
            box.saved_search = tuple(uids)
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


async def _expunge_deleted(session: ImapSession, only: list[int] | None) -> None:
    mail = session.require_mail()
    box = session.require_selected()
    deleted = [uid for uid in box.uids if "\\Deleted" in box.meta[uid].flags
               and (only is None or uid in only)]
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
    await session.complete(command)


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
    """RFC 2177: push changes as they happen until the client sends DONE."""
    mail = session.require_mail()
    session.send(b"+ idling\r\n")
    await session.report_changes(allow_expunge=True)
    await session.channel.drain()
    deadline = asyncio.get_running_loop().time() + session.settings.idle_timeout
    reader = asyncio.ensure_future(session.channel.read_line(None))
    try:
        while True:
            generation = mail.generation
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise IdleTimeout()
            waiter = asyncio.ensure_future(
                mail.wait_for_change(generation, min(IDLE_POLL_SECONDS, remaining)))
            done, _ = await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                waiter.cancel()
                line = reader.result()
                break
            await session.report_changes(allow_expunge=True)
            await session.channel.drain()
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    if isinstance(line, LineTooLong) or line.strip().upper() != b"DONE":
        session.bad(command, "expected DONE")
        return
    await session.complete(command, "terminated")
