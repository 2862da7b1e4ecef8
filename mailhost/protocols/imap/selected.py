"""The selected mailbox as one IMAP session sees it, and how it catches up with the store.

Message sequence numbers belong to the session: they change only when this session reports
EXPUNGE (or VANISHED) and EXISTS. Other sessions, deliveries and POP3 change the store at any
time, so :meth:`SelectedMailbox.refresh` compares the store with the session's index and yields
the untagged responses that bring the client up to date, at the moments RFC 3501 §7.4.1 allows:
expunges are held back while a FETCH, STORE or SEARCH (by sequence number) runs.

The index is only the UIDs, as a compact array in sequence order, and \\Recent as a few UID
ranges: flags, sizes and dates stay in the store and are read when a command needs them, so an
idle session on a big folder costs 4 bytes per message and one on a small folder a few hundred
bytes. Flag changes reach the client from the rows whose MODSEQ moved; the MODSEQs this
session's own STOREs wrote are remembered until the next refresh, so they are not echoed.
"""

from __future__ import annotations

import bisect
import dataclasses
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailhost.protocols.imap.fetch import flags_item
from mailhost.protocols.imap.sequence import SequenceSet, format_uid_set
from mailhost.protocols.imap.wire import flag_list
from mailhost.store.interface import MailboxInfo, MessageMeta
from mailhost.store.sqlite import views
from mailhost.store.sqlite.views import Selection, uid_array

if TYPE_CHECKING:
    from mailhost.store.sqlite.mailstore import SqliteMailStore


class InvalidSequence(ValueError):
    """A sequence number beyond the messages this session knows about."""


@dataclass(eq=False, slots=True)
class SelectedMailbox:
    info: MailboxInfo  # identity and the (UIDNEXT, HIGHESTMODSEQ) told; its counts go stale
    read_only: bool
    uids: array[int] = field(default_factory=uid_array)  # sequence order: uids[seq - 1]
    # \Recent for this session: the session's UIDs inside these inclusive ranges.
    recent_ranges: list[tuple[int, int]] = field(default_factory=list)
    known_modseq: int = 0
    expunged_pending: set[int] = field(default_factory=set)  # gone from the store, not yet told
    pending_since: int = 0  # a MODSEQ below every pending expunge: all before it is told
    saved_search: tuple[int, ...] = ()  # SEARCHRES ``$`` (UIDs)
    # MODSEQs of this session's own STOREs since the last report: each commit has its own
    # MODSEQ, so a row still carrying one of them was last changed by this session.
    own_modseqs: set[int] = field(default_factory=set)

    @classmethod
    async def open(
        cls, mail: SqliteMailStore, name: str, read_only: bool
    ) -> tuple[SelectedMailbox, Selection] | None:
        """Select ``name`` (validated) in one store hop; None if there is no such mailbox."""
        selection = await views.select_mailbox(mail, name, claim=not read_only)
        if selection is None:
            return None
        box = cls(info=selection.info, read_only=read_only, uids=selection.uids,
                  known_modseq=selection.info.highestmodseq)
        box._add_recent(selection.first_recent, selection.info.uidnext - 1)
        return box, selection

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

    def seqs_of(self, uids: Iterable[int]) -> list[int]:
        """Sequence numbers of ascending ``uids`` (0 for one the session does not know), in
        one pass: each search starts where the previous one ended."""
        mine = self.uids
        out: list[int] = []
        index = 0
        for uid in uids:
            index = bisect.bisect_left(mine, uid, index)
            out.append(index + 1 if index < len(mine) and mine[index] == uid else 0)
        return out

    def is_recent(self, uid: int) -> bool:
        return any(low <= uid <= high for low, high in self.recent_ranges)

    @property
    def recent_count(self) -> int:
        uids = self.uids
        return sum(bisect.bisect_right(uids, high) - bisect.bisect_left(uids, low)
                   for low, high in self.recent_ranges)

    def recent_uids(self) -> list[int]:
        """The session's \\Recent UIDs, ascending (for SEARCH RECENT)."""
        uids = self.uids
        out: list[int] = []
        for low, high in self.recent_ranges:
            out.extend(uids[bisect.bisect_left(uids, low):bisect.bisect_right(uids, high)])
        return out

    def _add_recent(self, low: int, high: int) -> None:
        if low > high:
            return
        if self.recent_ranges and self.recent_ranges[-1][1] + 1 >= low:
            self.recent_ranges[-1] = (self.recent_ranges[-1][0], max(high,
                                                                     self.recent_ranges[-1][1]))
        else:
            self.recent_ranges.append((low, high))

    def resolve(self, sequence: SequenceSet, uid: bool) -> Sequence[int]:
        """UIDs named by a sequence set (by UID or by sequence number), ascending.

        One range comes back as a slice of the UID array (see SequenceSet.select).
        """
        if uid:
            # ``*`` in a UID set is the largest UID in use; with no messages it is UIDNEXT-1.
            top = self.max_uid or self.info.uidnext - 1
            return sequence.select(self.uids, top, self.saved_search)
        if sequence.saved:
            return [u for u in self.saved_search if self.seq_of(u) is not None]
        ranges = sequence.resolve(self.exists)
        if any(low < 1 or high > self.exists for low, high in ranges):
            raise InvalidSequence("message sequence number out of range")
        parts = [self.uids[low - 1:high] for low, high in ranges]
        return parts[0] if len(parts) == 1 else [uid for part in parts for uid in part]

    def flags_line(self, uid: int, flags: bytes, modseq: int | None, with_uid: bool) -> bytes:
        """``* n FETCH (FLAGS ... [UID u] [MODSEQ (m)])``; ``flags`` is the rendered item."""
        items = [flags]
        if with_uid:
            items.append(b"UID %d" % uid)
        if modseq is not None:
            items.append(b"MODSEQ (%d)" % modseq)
        return b"* %d FETCH (%s)\r\n" % (self.seq_of(uid) or 0, b" ".join(items))

    def row_flags_line(self, row: views.FlagRow, with_uid: bool, modseq: bool) -> bytes:
        """The FLAGS response for a (uid, modseq, flags, keywords) row from the store."""
        uid = row[0]
        return self.flags_line(uid, flags_item(row[2], row[3], self.is_recent(uid)),
                               row[1] if modseq else None, with_uid)

    def meta_flags_line(self, meta: MessageMeta, with_uid: bool, modseq: bool) -> bytes:
        """The FLAGS response for a message as a STORE just left it."""
        flags: Iterable[str] = meta.flags
        if self.is_recent(meta.uid):
            flags = (*meta.flags, "\\Recent")
        return self.flags_line(meta.uid, b"FLAGS " + flag_list(flags),
                               meta.modseq if modseq else None, with_uid)

    # -- keeping up with the store --------------------------------------------------------

    def note_own_updates(self, updated: Iterable[MessageMeta]) -> None:
        """Remember changes this session made itself (STORE), so refresh does not echo them."""
        self.own_modseqs.update(meta.modseq for meta in updated)

    async def refresh(
        self, mail: SqliteMailStore, allow_expunge: bool, condstore: bool, qresync: bool,
    ) -> list[bytes] | None:
        """Untagged responses for everything that changed since the last refresh; None if
        the mailbox no longer exists (the session then ends the selection)."""
        changes = await views.changes_since(mail, self.info.id, self.info.uidnext,
                                            self.known_modseq, self.uids,
                                            claim=not self.read_only)
        if changes is None:
            return None
        out: list[bytes] = []
        if (changes.uidnext, changes.highestmodseq) != (self.info.uidnext, self.known_modseq):
            self._note_expunges(changes.expunged, self.known_modseq)
            out.extend(self._flag_changes(changes.changed, condstore))
            max_uid = self.max_uid
            new = [row[0] for row in changes.changed if row[0] > max_uid]
            if allow_expunge:
                out.extend(self._report_expunges(qresync))
            if new:
                self.uids = self.uids + uid_array(new)
                self._add_recent(max(changes.first_recent, new[0]), new[-1])
                out.append(b"* %d EXISTS\r\n" % self.exists)
                out.append(b"* %d RECENT\r\n" % self.recent_count)
            self.known_modseq = changes.highestmodseq
            self.info = dataclasses.replace(self.info, uidnext=changes.uidnext,
                                            highestmodseq=changes.highestmodseq)
            self.own_modseqs.clear()
        elif allow_expunge:
            out.extend(self._report_expunges(qresync))
        if self.expunged_pending and condstore:
            # Expunges are held back (RFC 3501 §7.4.1) while FETCH data with newer MODSEQs
            # went out: name a sync point below them, or a client that reconnects from the
            # newest MODSEQ it saw would never learn of the expunges (RFC 5162 erratum 1810).
            out.append(b"* OK [HIGHESTMODSEQ %d] expunges pending\r\n" % self.pending_since)
        return out

    def _note_expunges(self, expunged: list[int], since: int) -> None:
        """Add what the store expunged after ``since`` to the expunges not yet reported."""
        fresh = [uid for uid in expunged if self.seq_of(uid) is not None]
        if fresh and not self.expunged_pending:
            self.pending_since = since
        self.expunged_pending.update(fresh)

    def _flag_changes(self, changed: list[views.FlagRow], condstore: bool) -> list[bytes]:
        out = []
        for row in changed:
            uid, modseq = row[0], row[1]
            if modseq in self.own_modseqs or uid in self.expunged_pending \
                    or self.seq_of(uid) is None:
                continue
            out.append(self.row_flags_line(row, with_uid=condstore, modseq=condstore))
        return out

    def _report_expunges(self, qresync: bool) -> list[bytes]:
        if not self.expunged_pending:
            return []
        gone = sorted(self.expunged_pending)
        self.expunged_pending.clear()
        out: list[bytes] = []
        if qresync:
            out.append(b"* VANISHED " + format_uid_set(gone) + b"\r\n")
        indexes = [seq - 1 for uid in gone if (seq := self.seq_of(uid)) is not None]
        if not qresync:
            # Each number as it is after the removals before it (RFC 3501 §6.4.3).
            out.extend(b"* %d EXPUNGE\r\n" % (index - removed + 1)
                       for removed, index in enumerate(indexes))
        kept = uid_array()
        previous = 0
        for index in indexes:
            kept.extend(self.uids[previous:index])
            previous = index + 1
        kept.extend(self.uids[previous:])
        self.uids = kept  # a new array: the old one may be shared with the store's cache
        return out
