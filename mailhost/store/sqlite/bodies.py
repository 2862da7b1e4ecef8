"""Body rows: the stored bytes and what MIME analysis derives from them.

IMAP APPEND analyses a message before its insert, since its client usually reads it back at
once. A delivery (LMTP, SMTP) may store the bytes first and leave the analysis (envelope,
body structure, search fields, searchable text) for later: the MTA waits for the commit, not
for the parse, and a burst of deliveries is acknowledged at the rate of inserts. Such a body
is marked ``analysed = 0``; :class:`~mailhost.store.sqlite.mailstore.SqliteMailStore` analyses
it in the background once the account is quiet, or before its next read, so no reader ever
sees the placeholder columns. Dovecot likewise parses a delivered message on first access.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from mailhost.mime import MessageAnalysis, analyse, searchable_text
from mailhost.mime._headers import find_header_end

_X_UIDL = re.compile(rb"^X-UIDL:[ \t]*([\x21-\x7e]{1,70})[ \t]*\r?$", re.I | re.M)

_UPDATE_ANALYSED = (
    "UPDATE body SET header_end = ?, envelope = ?, bodystructure = ?, body_simple = ?, "
    "tree = ?, hdr_from = ?, hdr_to = ?, hdr_cc = ?, hdr_bcc = ?, hdr_subject = ?, "
    "hdr_message_id = ?, x_uidl = ?, sent_date = ?, analysed = 1 "
    "WHERE id = ? AND analysed = 0")


# Placeholders until the analysis, envelope to message id: readers never see them (see the
# module docstring).
_PENDING: tuple[object, ...] = (b"", b"", b"", b"", "", "", "", "", "", "")


def x_uidl_of(header: bytes) -> str | None:
    """A migrated message's old POP3 UIDL, if its header carries a valid X-UIDL."""
    match = _X_UIDL.search(header)
    return match.group(1).decode("ascii") if match else None


def _wall_clock(moment: datetime) -> float:
    """The Date: header's time as written, its zone dropped, as epoch seconds.

    SENTBEFORE/SENTON/SENTSINCE compare the date as written, "disregarding time and
    timezone" (RFC 3501 §6.4.4); the UTC instant would move 23:30 -0800 to the next day.
    """
    return moment.replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class Analysed:
    """One message's analysis and its casefolded searchable text, ready for its body row."""

    analysis: MessageAnalysis
    text: str

    def columns(self, raw: bytes) -> tuple[object, ...]:
        """The body columns from header_end to sent_date, in the order of the SQL above."""
        analysis, fields = self.analysis, self.analysis.fields
        return (analysis.header_end, analysis.envelope, analysis.bodystructure, analysis.body,
                analysis.tree_json, fields.from_, fields.to, fields.cc, fields.bcc,
                fields.subject, fields.message_id or "", x_uidl_of(raw[:analysis.header_end]),
                _wall_clock(fields.sent_date) if fields.sent_date else None)


def analyse_for_store(raw: bytes) -> Analysed:
    """Everything parsed once per stored body (on a database thread, never on the loop)."""
    analysis = analyse(raw)
    return Analysed(analysis, searchable_text(raw, analysis.tree).casefold())


def body_values(raw: bytes, analysed: Analysed | None) -> tuple[object, ...]:
    """A body's columns of the ``message_insert`` view (schema step 6), ``raw`` and ``text``
    included; placeholders and ``analysed = 0`` when the analysis is to follow."""
    if analysed is None:
        header = raw[:find_header_end(raw, 0, len(raw))]
        return (len(header), *_PENDING, x_uidl_of(header), None, 0, raw, None)
    return (*analysed.columns(raw), 1, raw, analysed.text)


def has_pending(conn: sqlite3.Connection) -> bool:
    """Whether some body still waits for its analysis (an index lookup)."""
    return conn.execute("SELECT 1 FROM body WHERE analysed = 0 LIMIT 1").fetchone() is not None


def pending_bodies(conn: sqlite3.Connection, limit: int) -> list[tuple[int, bytes]]:
    """Up to ``limit`` bodies waiting for analysis, oldest first: (id, raw)."""
    return [(body_id, bytes(raw)) for body_id, raw in conn.execute(
        "SELECT b.id, r.raw FROM body b JOIN body_raw r ON r.body_id = b.id "
        "WHERE b.analysed = 0 ORDER BY b.id LIMIT ?", (limit,))]


def store_analyses(conn: sqlite3.Connection,
                   done: list[tuple[int, bytes, Analysed]]) -> None:
    """Write analyses into their body rows (inside the caller's transaction).

    A body deleted meanwhile (its last message expunged) is skipped, and one analysed by
    another process meanwhile keeps that analysis: the result is the same.
    """
    for body_id, raw, analysed in done:
        if conn.execute(_UPDATE_ANALYSED, (*analysed.columns(raw), body_id)).rowcount:
            conn.execute("INSERT OR REPLACE INTO body_text(body_id, text) VALUES (?, ?)",
                         (body_id, analysed.text))
