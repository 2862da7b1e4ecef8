"""One frozen dataclass per IMAP command, with the states that allow it (RFC 3501 §3, §6).

``states`` is data for the session: it checks ``type(command).states`` before running a
command; the parser never looks at it.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import ClassVar, Final

from mailhost.protocols.imap.fetchatt import FetchItem
from mailhost.protocols.imap.searchkeys import SearchKey
from mailhost.protocols.imap.sequence import SequenceSet
from mailhost.protocols.imap.state import State

ANY_STATE: Final = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
NOT_AUTHENTICATED: Final = frozenset({State.NOT_AUTHENTICATED})
AUTHENTICATED: Final = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED: Final = frozenset({State.SELECTED})


class StatusItem(enum.Enum):
    """STATUS data items (RFC 3501, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 9208)."""

    MESSAGES = b"MESSAGES"
    RECENT = b"RECENT"
    UIDNEXT = b"UIDNEXT"
    UIDVALIDITY = b"UIDVALIDITY"
    UNSEEN = b"UNSEEN"
    HIGHESTMODSEQ = b"HIGHESTMODSEQ"
    SIZE = b"SIZE"
    DELETED = b"DELETED"
    DELETED_STORAGE = b"DELETED-STORAGE"


class StoreMode(enum.Enum):
    """FLAGS replaces, +FLAGS adds, -FLAGS removes."""

    REPLACE = b"FLAGS"
    ADD = b"+FLAGS"
    REMOVE = b"-FLAGS"


class SearchReturn(enum.Enum):
    """ESEARCH result options (RFC 4731) and SAVE (RFC 5182)."""

    MIN = b"MIN"
    MAX = b"MAX"
    ALL = b"ALL"
    COUNT = b"COUNT"
    SAVE = b"SAVE"


class ListSelect(enum.Enum):
    """LIST selection options (RFC 5258, RFC 6154 SPECIAL-USE)."""

    SUBSCRIBED = b"SUBSCRIBED"
    REMOTE = b"REMOTE"
    RECURSIVEMATCH = b"RECURSIVEMATCH"
    SPECIAL_USE = b"SPECIAL-USE"


class ListReturn(enum.Enum):
    """LIST return options (RFC 5258, RFC 5819 STATUS, RFC 6154 SPECIAL-USE)."""

    SUBSCRIBED = b"SUBSCRIBED"
    CHILDREN = b"CHILDREN"
    SPECIAL_USE = b"SPECIAL-USE"
    STATUS = b"STATUS"


@dataclass(frozen=True)
class Command:
    """Base of every command: the client's tag and the states that accept it."""

    tag: bytes
    states: ClassVar[frozenset[State]] = frozenset()


# -- any state --------------------------------------------------------------------


@dataclass(frozen=True)
class Capability(Command):
    states = ANY_STATE


@dataclass(frozen=True)
class Noop(Command):
    states = ANY_STATE


@dataclass(frozen=True)
class Logout(Command):
    states = ANY_STATE


@dataclass(frozen=True)
class Id(Command):
    """RFC 2971; ``params`` is None for ``ID NIL``, else (field, value-or-None) pairs."""

    params: tuple[tuple[str, str | None], ...] | None
    states = ANY_STATE


# -- not authenticated --------------------------------------------------------------


@dataclass(frozen=True)
class Starttls(Command):
    states = NOT_AUTHENTICATED


@dataclass(frozen=True)
class Authenticate(Command):
    """``mechanism`` upper-cased; ``initial_response`` decoded (SASL-IR, ``=`` is b"")."""

    mechanism: str
    initial_response: bytes | None = None
    states = NOT_AUTHENTICATED


@dataclass(frozen=True)
class Login(Command):
    """The username is UTF-8 text; the password stays raw octets for the verifier."""

    username: str
    password: bytes
    states = NOT_AUTHENTICATED


# -- authenticated -----------------------------------------------------------------


@dataclass(frozen=True)
class QresyncParams:
    """SELECT ... (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])) (RFC 7162)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    known_sequences: SequenceSet | None = None
    known_sequence_uids: SequenceSet | None = None


@dataclass(frozen=True)
class Select(Command):
    mailbox: str
    read_only: bool = False
    condstore: bool = False
    qresync: QresyncParams | None = None
    states = AUTHENTICATED


@dataclass(frozen=True)
class Examine(Select):
    """SELECT with ``read_only`` set; a subclass so handlers can treat both alike."""

    read_only: bool = True


@dataclass(frozen=True)
class Create(Command):
    """``special_use`` from ``CREATE name (USE (...))`` (RFC 6154), known ones canonical."""

    mailbox: str
    special_use: tuple[str, ...] = ()
    states = AUTHENTICATED


@dataclass(frozen=True)
class Delete(Command):
    mailbox: str
    states = AUTHENTICATED


@dataclass(frozen=True)
class Rename(Command):
    mailbox: str
    new_name: str
    states = AUTHENTICATED


@dataclass(frozen=True)
class Subscribe(Command):
    mailbox: str
    states = AUTHENTICATED


@dataclass(frozen=True)
class Unsubscribe(Command):
    mailbox: str
    states = AUTHENTICATED


@dataclass(frozen=True)
class List(Command):
    """LIST, basic or extended (RFC 5258); names are decoded but not INBOX-normalised.

    ``extended`` is True when selection options, several patterns or RETURN were used,
    since extended LIST answers slightly differently. ``status_items`` is non-empty
    exactly when ``ListReturn.STATUS`` is in ``return_options`` (RFC 5819).
    """

    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[ListSelect] = frozenset()
    return_options: frozenset[ListReturn] = frozenset()
    status_items: tuple[StatusItem, ...] = ()
    extended: bool = False
    states = AUTHENTICATED


@dataclass(frozen=True)
class Lsub(Command):
    reference: str
    pattern: str
    states = AUTHENTICATED


@dataclass(frozen=True)
class Status(Command):
    mailbox: str
    items: tuple[StatusItem, ...]
    states = AUTHENTICATED


@dataclass(frozen=True)
class Append(Command):
    """``date_time`` is aware; ``message`` is the literal exactly as sent (NULs included)."""

    mailbox: str
    flags: tuple[str, ...]
    date_time: datetime.datetime | None
    message: bytes
    states = AUTHENTICATED


@dataclass(frozen=True)
class Namespace(Command):
    states = AUTHENTICATED


@dataclass(frozen=True)
class Enable(Command):
    """RFC 5161: valid only before a mailbox is selected; names upper-cased."""

    capabilities: tuple[str, ...]
    states = frozenset({State.AUTHENTICATED})


@dataclass(frozen=True)
class Idle(Command):
    states = AUTHENTICATED


@dataclass(frozen=True)
class GetQuota(Command):
    root: str
    states = AUTHENTICATED


@dataclass(frozen=True)
class GetQuotaRoot(Command):
    mailbox: str
    states = AUTHENTICATED


@dataclass(frozen=True)
class SetQuota(Command):
    """RFC 9208; ``limits`` pairs upper-cased resource names with their limits."""

    root: str
    limits: tuple[tuple[str, int], ...]
    states = AUTHENTICATED


# -- selected ----------------------------------------------------------------------


@dataclass(frozen=True)
class Check(Command):
    states = SELECTED


@dataclass(frozen=True)
class Close(Command):
    states = SELECTED


@dataclass(frozen=True)
class Unselect(Command):
    states = SELECTED


@dataclass(frozen=True)
class Expunge(Command):
    """``uid_set`` is set for UID EXPUNGE (UIDPLUS), None for plain EXPUNGE."""

    uid_set: SequenceSet | None = None
    states = SELECTED


@dataclass(frozen=True)
class Search(Command):
    """``return_options`` None asks for a SEARCH response, a set for ESEARCH.

    ``RETURN ()`` is normalised to ``{ALL}`` as RFC 4731 defines it.
    """

    key: SearchKey
    charset: str | None = None
    uid: bool = False
    return_options: frozenset[SearchReturn] | None = None
    states = SELECTED


@dataclass(frozen=True)
class Fetch(Command):
    """``changedsince``/``vanished`` are RFC 7162 modifiers; UID and MODSEQ are not added
    implicitly here, the handler adds them where the RFCs say so."""

    sequence: SequenceSet
    attributes: tuple[FetchItem, ...]
    uid: bool = False
    changedsince: int | None = None
    vanished: bool = False
    states = SELECTED


@dataclass(frozen=True)
class Store(Command):
    sequence: SequenceSet
    mode: StoreMode
    silent: bool
    flags: tuple[str, ...]
    uid: bool = False
    unchangedsince: int | None = None
    states = SELECTED


@dataclass(frozen=True)
class Copy(Command):
    sequence: SequenceSet
    mailbox: str
    uid: bool = False
    states = SELECTED


@dataclass(frozen=True)
class Move(Command):
    sequence: SequenceSet
    mailbox: str
    uid: bool = False
    states = SELECTED
