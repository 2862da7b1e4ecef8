"""IMAP SEARCH keys compiled to one SQL condition over the account database.

The whole key tree becomes a single WHERE clause, so SQLite does the filtering over the data
stored at delivery time (decoded headers, sizes, dates, flags, searchable body text); Python
only supplies two small functions for Unicode case-folding and arbitrary header fields.
Sequence numbers, \\Recent and ``$`` are session state: the caller resolves them to UIDs and
they arrive as JSON arrays, so a huge set costs one parameter, not thousands.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailhost.protocols.imap import searchkeys as sk
from mailhost.store.flags import SYSTEM_FLAGS

DECODED_HEADERS = {"from": "b.hdr_from", "to": "b.hdr_to", "cc": "b.hdr_cc",
                   "bcc": "b.hdr_bcc", "subject": "b.hdr_subject"}
EPOCH = datetime.date(1970, 1, 1)
HEADER_BLOB = "(SELECT substr(r.raw, 1, b.header_end) FROM body_raw r WHERE r.body_id = b.id)"


@dataclass
class SearchScope:
    """Session state the search needs: how to turn sequence sets into UIDs."""

    resolve_sequence: Callable[[Any], Sequence[int]]  # SequenceSet -> UIDs (by seq number)
    resolve_uids: Callable[[Any], Sequence[int]]  # SequenceSet -> UIDs (by UID)
    recent: set[int] = field(default_factory=set)


@dataclass
class CompiledSearch:
    where: str
    params: list[Any]
    needs_text: bool = False


class _Compiler:
    def __init__(self, scope: SearchScope) -> None:
        self.scope = scope
        self.params: list[Any] = []
        self.needs_text = False

    def uid_set(self, uids: Sequence[int]) -> str:
        self.params.append(json.dumps(list(uids)))
        return "g.uid IN (SELECT value FROM json_each(?))"

    def compile(self, key: sk.SearchKey) -> str:
        if isinstance(key, sk.All):
            return "1"
        if isinstance(key, sk.And):
            return "(" + " AND ".join(self.compile(k) for k in key.keys) + ")" if key.keys \
                else "1"
        if isinstance(key, sk.Or):
            return f"({self.compile(key.left)} OR {self.compile(key.right)})"
        if isinstance(key, sk.Not):
            return f"NOT {self.compile(key.key)}"
        if isinstance(key, sk.HasFlag):
            return self.flag(key.flag)
        if isinstance(key, sk.HeaderContains):
            return self.header(key.field.lower(), key.value)
        if isinstance(key, sk.BodyContains):
            self.needs_text = True
            self.params.append(key.value.casefold())
            return "instr(COALESCE(t.text, ''), ?) > 0"
        if isinstance(key, sk.TextContains):
            self.needs_text = True
            self.params.extend([key.value, key.value.casefold()])
            return (f"(mh_header_has({HEADER_BLOB}, '', ?) "
                    "OR instr(COALESCE(t.text, ''), ?) > 0)")
        if isinstance(key, sk.DateMatch):
            return self.date(key)
        if isinstance(key, sk.Larger):
            self.params.append(key.size)
            return "g.size > ?"
        if isinstance(key, sk.Smaller):
            self.params.append(key.size)
            return "g.size < ?"
        if isinstance(key, sk.SequenceMatch):
            return self.uid_set(self.scope.resolve_sequence(key.sequence))
        if isinstance(key, sk.UidMatch):
            return self.uid_set(self.scope.resolve_uids(key.uids))
        if isinstance(key, sk.ModSeqAtLeast):
            self.params.append(key.modseq)
            return "g.modseq >= ?"
        raise ValueError(f"unsupported search key {key!r}")

    def flag(self, flag: str) -> str:
        if flag.lower() == "\\recent":
            return self.uid_set(sorted(self.scope.recent))
        bit = SYSTEM_FLAGS.get(flag.lower())
        if bit is not None:
            return f"(g.flags & {bit}) != 0"
        self.params.append(flag)
        return "instr(' ' || g.keywords || ' ', ' ' || ? || ' ') > 0"

    def header(self, name: str, value: str) -> str:
        column = DECODED_HEADERS.get(name)
        if column is not None and value:
            self.params.append(value)
            return f"mh_icontains({column}, ?)"
        self.params.extend([name, value])
        return f"mh_header_has({HEADER_BLOB}, ?, ?)"

    def date(self, key: sk.DateMatch) -> str:
        operator = {sk.DateRelation.BEFORE: "<", sk.DateRelation.ON: "=",
                    sk.DateRelation.SINCE: ">="}[key.relation]
        if key.field is sk.DateField.INTERNAL:
            # The local day of INTERNALDATE, stored at APPEND: index message_day serves it.
            self.params.append((key.date - EPOCH).days)
            return f"(g.internal_day {operator} ?)"
        self.params.append(key.date.isoformat())
        # The Date: header is stored as written, its zone dropped.
        return f"(date(b.sent_date, 'unixepoch') {operator} ?)"


def compile_search(key: sk.SearchKey, scope: SearchScope) -> CompiledSearch:
    compiler = _Compiler(scope)
    where = compiler.compile(key)
    return CompiledSearch(where, compiler.params, compiler.needs_text)
