"""Parsers for LIST (RFC 3501, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819) and LSUB."""

from __future__ import annotations

from mailhost.protocols.imap.args import decode_mailbox_name
from mailhost.protocols.imap.commands import List, ListReturn, ListSelect, Lsub, StatusItem
from mailhost.protocols.imap.cursor import Cursor
from mailhost.protocols.imap.parse_mailbox import read_status_items

# RFC 5258 §3: RECURSIVEMATCH only modifies a base option (SUBSCRIBED; SPECIAL-USE per
# RFC 6154); alone, or with REMOTE only, it is a syntax error.
_BASE_SELECTIONS = frozenset({ListSelect.SUBSCRIBED, ListSelect.SPECIAL_USE})


def _pattern(cursor: Cursor) -> str:
    return decode_mailbox_name(cursor, cursor.list_mailbox())


def _reference(cursor: Cursor) -> str:
    return decode_mailbox_name(cursor, cursor.astring())


def parse_lsub(cursor: Cursor, tag: bytes) -> Lsub:
    cursor.sp()
    reference = _reference(cursor)
    cursor.sp()
    return Lsub(tag, reference, _pattern(cursor))


def parse_list(cursor: Cursor, tag: bytes) -> List:
    cursor.sp()
    selection: frozenset[ListSelect] = frozenset()
    extended = cursor.peek() == ord("(")
    if extended:
        selection = _selection(cursor)
        cursor.sp()
    reference = _reference(cursor)
    cursor.sp()
    if cursor.peek() == ord("("):
        extended = True
        patterns = tuple(cursor.parenthesized(lambda: _pattern(cursor)))
    else:
        patterns = (_pattern(cursor),)
    return_options: frozenset[ListReturn] = frozenset()
    status_items: tuple[StatusItem, ...] = ()
    if cursor.accept_sp():
        if not cursor.accept_keyword(b"RETURN"):
            cursor.fail("expected RETURN")
        cursor.sp()
        extended = True
        return_options, status_items = _return_options(cursor)
    return List(
        tag,
        reference,
        patterns,
        selection=selection,
        return_options=return_options,
        status_items=status_items,
        extended=extended,
    )


def _selection(cursor: Cursor) -> frozenset[ListSelect]:
    options = frozenset(cursor.parenthesized(lambda: _selection_option(cursor), allow_empty=True))
    if ListSelect.RECURSIVEMATCH in options and not options & _BASE_SELECTIONS:
        cursor.fail("RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE")
    return options


def _selection_option(cursor: Cursor) -> ListSelect:
    try:
        return ListSelect(cursor.keyword())
    except ValueError:
        cursor.fail("unknown LIST selection option")


def _return_options(cursor: Cursor) -> tuple[frozenset[ListReturn], tuple[StatusItem, ...]]:
    status_lists: list[tuple[StatusItem, ...]] = []

    def option() -> ListReturn:
        try:
            chosen = ListReturn(cursor.keyword())
        except ValueError:
            cursor.fail("unknown LIST return option")
        if chosen is ListReturn.STATUS:
            cursor.sp()
            status_lists.append(read_status_items(cursor))
        return chosen

    options = frozenset(cursor.parenthesized(option, allow_empty=True))
    if len(status_lists) > 1:
        cursor.fail("STATUS given twice in LIST RETURN")
    return options, status_lists[0] if status_lists else ()
