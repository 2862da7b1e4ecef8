"""The selected mailbox as one IMAP session sees it, and how it catches up with the store.

Message sequence numbers belong to the session: they change only when this session reports
EXPUNGE (or VANISHED) and EXISTS. Other sessions, deliveries and POP3 change the store at any
time, so :meth:`SelectedMailbox.refresh` compares the store with the session's index and yields
the untagged responses that bring the client up to date, at the moments RFC 3501 §7.4.1 allows:
expunges are held back while a FETCH, STORE or SEARCH (by sequence number) runs.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailhost.protocols.imap.sequence import SequenceSet, format_uid_set
from mailhost.protocols.imap.wire import flag_list
from mailhost.store.interface import MailboxInfo, MessageMeta

if TYPE_CHECKING:
    from mailhost.store.sqlite.mailstore import SqliteMailStore


class InvalidSequence(ValueError):
    """A sequence number beyond the messages this session knows about."""


@dataclass
class SelectedMailbox:
    info: MailboxInfo
    read_only: bool
    uids: list[int] = field(default_factory=list)  # sequence order: uids[seq - 1]
    meta: dict[int, MessageMeta] = field(default_factory=dict)
    recent: set[int] = field(default_factory=set)
    known_modseq: int = 0
    expunged_pending: set[int] = field(default_factory=set)  # gone from the store, not yet told
    saved_search: tuple[int, ...] = ()  # SEARCHRES ``$`` (UIDs)

    @classmethod
    async def open(
        cls, mail: SqliteMailStore, info: MailboxInfo, read_only: bool
    ) -> SelectedMailbox:
        messages = await mail.messages(info.id)
        seen_up_to = max(info.uidnext, messages[-1].uid + 1) if messages else info.uidnext
        first_recent = await mail.claim_recent(info.id, claim=not read_only, upto=seen_up_to)
        box = cls(info=info, read_only=read_only, known_modseq=info.highestmodseq)
        for meta in messages:
            box.uids.append(meta.uid)
            box.meta[meta.uid] = meta
            if meta.uid >= first_recent:
                box.recent.add(meta.uid)
        return box

    # -- lookups -----------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    @property
    def max_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def seq_of(self, uid: int) -> int | None:
        index = bisect.bisect_left(self.uids, uid)
        if index < len(self.uids) and self.uids[index] == uid:
            return index + 1
        return None

    def flags_of(self, uid: int) -> tuple[str, ...]:
        flags = self.meta[uid].flags
        return (*flags, "\\Recent") if uid in self.recent else flags

    def resolve(self, sequence: SequenceSet, uid: bool) -> list[int]:
        """UIDs named by a sequence set (by UID or by sequence number), ascending."""
        if uid:
            # ``*`` in a UID set is the largest UID in use; with no messages it is UIDNEXT-1.
            top = self.max_uid or self.info.uidnext - 1
            return list(sequence.select(self.uids, top, self.saved_search))
        if sequence.saved:
            return [u for u in self.saved_search if u in self.meta]
        for low, high in sequence.resolve(self.exists):
            if low < 1 or high > self.exists:
                raise InvalidSequence("message sequence number out of range")
        numbers = sequence.select(range(1, self.exists + 1), self.exists)
        return [self.uids[n - 1] for n in numbers]

    def fetch_flags_line(self, uid: int, with_uid: bool, modseq: bool) -> bytes:
        seq = self.seq_of(uid)
        items = [b"FLAGS " + flag_list(self.flags_of(uid))]
        if with_uid:
            items.append(b"UID %d" % uid)
        if modseq:
            items.append(b"MODSEQ (%d)" % self.meta[uid].modseq)
        return b"* %d FETCH (%s)\r\n" % (seq or 0, b" ".join(items))

    # -- keeping up with the store --------------------------------------------------------

    def apply_own_update(self, meta: MessageMeta) -> None:
        """Record a change this session made itself (STORE), so refresh does not echo it."""
        if meta.uid in self.meta:
            self.meta[meta.uid] = meta

    async def refresh(
        self, mail: SqliteMailStore, allow_expunge: bool, condstore: bool, qresync: bool,
    ) -> list[bytes]:
        """Untagged responses for everything that changed since the last refresh."""
        info = await mail.mailbox_by_id(self.info.id)
        out: list[bytes] = []
        if info is None:
            return out  # deleted under us; the session handles that separately
        if info.highestmodseq != self.known_modseq or info.uidnext != self.info.uidnext:
            since = self.known_modseq
            changed = await mail.messages_changed_since(self.info.id, since)
            self.expunged_pending.update(
                uid for uid in await mail.expunged_since(self.info.id, since) if uid in self.meta
            )
            out.extend(self._flag_changes(changed, condstore))
            new = [meta for meta in changed if meta.uid not in self.meta
                   and meta.uid > self.max_uid]
            if allow_expunge:
                out.extend(self._report_expunges(qresync))
            if new:
                first_recent = await mail.claim_recent(self.info.id, claim=not self.read_only,
                                                       upto=new[-1].uid + 1)
                for meta in new:
                    self.uids.append(meta.uid)
                    self.meta[meta.uid] = meta
                    if meta.uid >= first_recent:
                        self.recent.add(meta.uid)
                out.append(b"* %d EXISTS\r\n" % self.exists)
                out.append(b"* %d RECENT\r\n" % len(self.recent))
            self.known_modseq = info.highestmodseq
            self.info = info
        elif allow_expunge:
            out.extend(self._report_expunges(qresync))
        return out

    def _flag_changes(self, changed: list[MessageMeta], condstore: bool) -> list[bytes]:
        out = []
        for meta in changed:
            old = self.meta.get(meta.uid)
            if old is None or meta.uid in self.expunged_pending:
                continue
            self.meta[meta.uid] = meta
            if old.flags != meta.flags or (condstore and old.modseq != meta.modseq):
                out.append(self.fetch_flags_line(meta.uid, with_uid=condstore,
                                                 modseq=condstore))
        return out

    def _report_expunges(self, qresync: bool) -> list[bytes]:
        if not self.expunged_pending:
            return []
        gone = sorted(self.expunged_pending)
        self.expunged_pending.clear()
        out: list[bytes] = []
        if qresync:
            out.append(b"* VANISHED " + format_uid_set(gone) + b"\r\n")
        for uid in gone:  # each number as it is after the removals before it (RFC 3501 §6.4.3)
            seq = self.seq_of(uid)
            if seq is None:
                continue
            if not qresync:
                out.append(b"* %d EXPUNGE\r\n" % seq)
            del self.uids[seq - 1]
            del self.meta[uid]
            self.recent.discard(uid)
        return out
