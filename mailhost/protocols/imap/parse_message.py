"""Parsers for selected-state commands: EXPUNGE, SEARCH, FETCH, STORE, COPY, MOVE.

The ``uid`` keyword is bound by the registry for the ``UID`` prefixed forms.
"""

from __future__ import annotations

from typing import Final

from mailhost.protocols.imap.args import (
    read_flag,
    read_flag_list,
    read_mailbox,
    read_mod_sequence,
    read_sequence_set,
)
from mailhost.protocols.imap.commands import (
    Copy,
    Expunge,
    Fetch,
    Move,
    Search,
    SearchReturn,
    Store,
    StoreMode,
)
from mailhost.protocols.imap.cursor import Cursor
from mailhost.protocols.imap.fetchatt import read_fetch_items
from mailhost.protocols.imap.searchkeys import read_charset, read_search_program
from mailhost.protocols.imap.sequence import SequenceSet

_STORE_ITEM_CHARS: Final = frozenset(b"+-.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_SILENT: Final = b".SILENT"


def parse_expunge(_cursor: Cursor, tag: bytes) -> Expunge:
    return Expunge(tag)


def parse_uid_expunge(cursor: Cursor, tag: bytes) -> Expunge:
    cursor.sp()
    return Expunge(tag, read_sequence_set(cursor))


def parse_search(cursor: Cursor, tag: bytes, *, uid: bool = False) -> Search:
    cursor.sp()
    return_options = None
    if cursor.accept_keyword(b"RETURN"):
        cursor.sp()
        chosen = cursor.parenthesized(lambda: _search_return(cursor), allow_empty=True)
        return_options = frozenset(chosen or [SearchReturn.ALL])
        cursor.sp()
    charset = None
    if cursor.accept_keyword(b"CHARSET"):
        cursor.sp()
        charset = read_charset(cursor)
        cursor.sp()
    key = read_search_program(cursor)
    return Search(tag, key, charset=charset, uid=uid, return_options=return_options)


def _search_return(cursor: Cursor) -> SearchReturn:
    try:
        return SearchReturn(cursor.keyword())
    except ValueError:
        cursor.fail("unknown SEARCH return option")


def parse_fetch(cursor: Cursor, tag: bytes, *, uid: bool = False) -> Fetch:
    cursor.sp()
    sequence = read_sequence_set(cursor)
    cursor.sp()
    attributes = read_fetch_items(cursor)
    changedsince = None
    vanished = False
    if cursor.accept_sp():
        modifiers = cursor.parenthesized(lambda: _fetch_modifier(cursor))
        names = [name for name, _ in modifiers]
        if len(set(names)) != len(names):
            cursor.fail("repeated FETCH modifier")
        changedsince = next((value for _, value in modifiers if value is not None), None)
        vanished = b"VANISHED" in names
    if vanished and not (uid and changedsince is not None):
        cursor.fail("VANISHED needs UID FETCH with CHANGEDSINCE")
    return Fetch(tag, sequence, attributes, uid, changedsince, vanished)


def _fetch_modifier(cursor: Cursor) -> tuple[bytes, int | None]:
    name = cursor.keyword()
    if name == b"CHANGEDSINCE":
        cursor.sp()
        return name, read_mod_sequence(cursor, allow_zero=False)
    if name == b"VANISHED":
        return name, None
    cursor.fail("unknown FETCH modifier")


def parse_store(cursor: Cursor, tag: bytes, *, uid: bool = False) -> Store:
    cursor.sp()
    sequence = read_sequence_set(cursor)
    cursor.sp()
    unchangedsince = None
    if cursor.peek() == ord("("):
        unchangedsince = cursor.parenthesized(lambda: _store_modifier(cursor))
        if len(unchangedsince) > 1:
            cursor.fail("repeated STORE modifier")
        cursor.sp()
    mode, silent = _store_item(cursor)
    cursor.sp()
    if cursor.peek() == ord("("):
        flags = read_flag_list(cursor)
    else:
        flag_words = [read_flag(cursor)]
        while cursor.accept_sp():
            flag_words.append(read_flag(cursor))
        flags = tuple(dict.fromkeys(flag_words))
    return Store(
        tag,
        sequence,
        mode,
        silent,
        flags,
        uid=uid,
        unchangedsince=unchangedsince[0] if unchangedsince else None,
    )


def _store_modifier(cursor: Cursor) -> int:
    if cursor.keyword() != b"UNCHANGEDSINCE":
        cursor.fail("unknown STORE modifier")
    cursor.sp()
    return read_mod_sequence(cursor, allow_zero=True)


def _store_item(cursor: Cursor) -> tuple[StoreMode, bool]:
    name = cursor.span(_STORE_ITEM_CHARS).upper()
    silent = name.endswith(_SILENT)
    try:
        mode = StoreMode(name.removesuffix(_SILENT))
    except ValueError:
        cursor.fail("expected FLAGS, +FLAGS or -FLAGS")
    return mode, silent


def _sequence_and_mailbox(cursor: Cursor) -> tuple[SequenceSet, str]:
    cursor.sp()
    sequence = read_sequence_set(cursor)
    cursor.sp()
    return sequence, read_mailbox(cursor)


def parse_copy(cursor: Cursor, tag: bytes, *, uid: bool = False) -> Copy:
    sequence, mailbox = _sequence_and_mailbox(cursor)
    return Copy(tag, sequence, mailbox, uid)


def parse_move(cursor: Cursor, tag: bytes, *, uid: bool = False) -> Move:
    sequence, mailbox = _sequence_and_mailbox(cursor)
    return Move(tag, sequence, mailbox, uid)
