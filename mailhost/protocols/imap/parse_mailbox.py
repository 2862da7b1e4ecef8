"""Parsers for mailbox-level commands: SELECT/EXAMINE, CREATE..., STATUS, APPEND, QUOTA."""

from __future__ import annotations

from typing import Final

from mailhost.protocols.imap.args import (
    read_date_time,
    read_flag_list,
    read_mailbox,
    read_mod_sequence,
    read_sequence_set,
    read_utf8,
)
from mailhost.protocols.imap.charclasses import ATOM_CHARS
from mailhost.protocols.imap.commands import (
    Append,
    Create,
    Delete,
    Examine,
    GetQuota,
    GetQuotaRoot,
    QresyncParams,
    Rename,
    Select,
    SetQuota,
    Status,
    StatusItem,
    Subscribe,
    Unsubscribe,
)
from mailhost.protocols.imap.cursor import NUMBER64_MAX, Cursor
from mailhost.protocols.imap.sequence import SequenceSet

SPECIAL_USES: Final = {
    name.upper(): name
    for name in ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
}


def parse_select(cursor: Cursor, tag: bytes) -> Select:
    mailbox, condstore, qresync = _select_arguments(cursor)
    return Select(tag, mailbox, condstore=condstore, qresync=qresync)


def parse_examine(cursor: Cursor, tag: bytes) -> Examine:
    mailbox, condstore, qresync = _select_arguments(cursor)
    return Examine(tag, mailbox, condstore=condstore, qresync=qresync)


def _select_arguments(cursor: Cursor) -> tuple[str, bool, QresyncParams | None]:
    cursor.sp()
    mailbox = read_mailbox(cursor)
    if not cursor.accept_sp():
        return mailbox, False, None
    params = cursor.parenthesized(lambda: _select_param(cursor))
    names = [name for name, _ in params]
    if len(set(names)) != len(names):
        cursor.fail("repeated SELECT parameter")
    qresync = next((value for _, value in params if value is not None), None)
    return mailbox, "CONDSTORE" in names, qresync


def _select_param(cursor: Cursor) -> tuple[str, QresyncParams | None]:
    name = cursor.keyword()
    if name == b"CONDSTORE":
        return "CONDSTORE", None
    if name == b"QRESYNC":
        cursor.sp()
        return "QRESYNC", _qresync(cursor)
    cursor.fail("unknown SELECT parameter")


def _qresync(cursor: Cursor) -> QresyncParams:
    cursor.expect(ord("("), "'('")
    with cursor.nested():
        uidvalidity = cursor.number(nonzero=True)
        cursor.sp()
        modseq = read_mod_sequence(cursor, allow_zero=False)
        known_uids = sequences = sequence_uids = None
        has_match_data = False
        if cursor.accept_sp():
            if cursor.peek() == ord("("):
                has_match_data = True
            else:
                known_uids = _known_set(cursor)
                has_match_data = cursor.accept_sp()
        if has_match_data:
            match_data = cursor.parenthesized(lambda: _known_set(cursor))
            if len(match_data) != 2:
                cursor.fail("QRESYNC match data is (sequence numbers SP UIDs)")
            sequences, sequence_uids = match_data
        cursor.expect(ord(")"), "')'")
    return QresyncParams(uidvalidity, modseq, known_uids, sequences, sequence_uids)


def _known_set(cursor: Cursor) -> SequenceSet:
    """QRESYNC sets list known numbers, so ``*`` and ``$`` are meaningless there."""
    sequence = read_sequence_set(cursor)
    if sequence.saved or sequence.uses_star:
        cursor.fail("'*' and '$' are not allowed in QRESYNC sets")
    return sequence


def parse_create(cursor: Cursor, tag: bytes) -> Create:
    cursor.sp()
    mailbox = read_mailbox(cursor)
    if not cursor.accept_sp():
        return Create(tag, mailbox)
    params = cursor.parenthesized(lambda: _create_param(cursor))
    if len(params) > 1:
        cursor.fail("repeated CREATE parameter")
    return Create(tag, mailbox, params[0])


def _create_param(cursor: Cursor) -> tuple[str, ...]:
    if cursor.keyword() != b"USE":
        cursor.fail("unknown CREATE parameter")
    cursor.sp()
    uses = cursor.parenthesized(lambda: _special_use(cursor), allow_empty=True)
    return tuple(dict.fromkeys(uses))


def _special_use(cursor: Cursor) -> str:
    """A use-attr; unknown ``\\`` names pass through so the server can answer USEATTR."""
    cursor.expect(ord("\\"), "a special-use attribute")
    name = "\\" + cursor.atom().decode("ascii")
    return SPECIAL_USES.get(name.upper(), name)


def _single_mailbox(cursor: Cursor) -> str:
    cursor.sp()
    return read_mailbox(cursor)


def parse_delete(cursor: Cursor, tag: bytes) -> Delete:
    return Delete(tag, _single_mailbox(cursor))


def parse_subscribe(cursor: Cursor, tag: bytes) -> Subscribe:
    return Subscribe(tag, _single_mailbox(cursor))


def parse_unsubscribe(cursor: Cursor, tag: bytes) -> Unsubscribe:
    return Unsubscribe(tag, _single_mailbox(cursor))


def parse_getquotaroot(cursor: Cursor, tag: bytes) -> GetQuotaRoot:
    return GetQuotaRoot(tag, _single_mailbox(cursor))


def parse_rename(cursor: Cursor, tag: bytes) -> Rename:
    source = _single_mailbox(cursor)
    return Rename(tag, source, _single_mailbox(cursor))


def read_status_items(cursor: Cursor) -> tuple[StatusItem, ...]:
    """``"(" status-att *(SP status-att) ")"``, shared by STATUS and LIST RETURN."""
    items = cursor.parenthesized(lambda: _status_item(cursor))
    return tuple(dict.fromkeys(items))


def _status_item(cursor: Cursor) -> StatusItem:
    try:
        return StatusItem(cursor.keyword())
    except ValueError:
        cursor.fail("unknown STATUS item")


def parse_status(cursor: Cursor, tag: bytes) -> Status:
    mailbox = _single_mailbox(cursor)
    cursor.sp()
    return Status(tag, mailbox, read_status_items(cursor))


def parse_append(cursor: Cursor, tag: bytes) -> Append:
    mailbox = _single_mailbox(cursor)
    cursor.sp()
    flags: tuple[str, ...] = ()
    if cursor.peek() == ord("("):
        flags = read_flag_list(cursor)
        cursor.sp()
    date_time = None
    if cursor.peek() == ord('"'):
        date_time = read_date_time(cursor)
        cursor.sp()
    if not cursor.at_literal():
        cursor.fail("APPEND needs the message as a literal")
    # Stray NULs occur in real archived mail; refusing them would make such messages
    # impossible to copy in, and the message is stored as opaque octets anyway.
    return Append(tag, mailbox, flags, date_time, cursor.literal(allow_nul=True))


def _quota_root(cursor: Cursor) -> str:
    cursor.sp()
    return read_utf8(cursor, cursor.astring())


def parse_getquota(cursor: Cursor, tag: bytes) -> GetQuota:
    return GetQuota(tag, _quota_root(cursor))


def parse_setquota(cursor: Cursor, tag: bytes) -> SetQuota:
    root = _quota_root(cursor)
    cursor.sp()
    limits = cursor.parenthesized(lambda: _quota_limit(cursor), allow_empty=True)
    if len({name for name, _ in limits}) != len(limits):
        cursor.fail("repeated quota resource")
    return SetQuota(tag, root, tuple(limits))


def _quota_limit(cursor: Cursor) -> tuple[str, int]:
    name = cursor.span(ATOM_CHARS).upper()
    if not name:
        cursor.fail("expected a quota resource name")
    cursor.sp()
    return name.decode("ascii"), cursor.number(maximum=NUMBER64_MAX)
