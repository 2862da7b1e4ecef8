"""Decisions as values: what a decide-hook returns, mapped by each protocol to its wire form.

A plugin never writes protocol replies itself. It returns one of these small frozen values and
the POP3, IMAP or SMTP layer turns it into ``-ERR [SYS/TEMP]``, ``NO [UNAVAILABLE]`` or ``451``,
so one policy plugin works for every protocol and the server logs which plugin decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuthSuccess:
    """The credentials are good; ``username`` is the canonical account name to log in as."""

    username: str


@dataclass(frozen=True)
class AuthFailure:
    """The credentials are wrong (``temporary=False``) or cannot be checked now (True)."""

    reason: str = "invalid credentials"
    temporary: bool = False


AuthOutcome = AuthSuccess | AuthFailure


@dataclass(frozen=True)
class Deliver:
    """Store the message for this recipient into ``folder`` with ``flags`` set."""

    folder: str = "INBOX"
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reject:
    """Refuse this recipient permanently (SMTP 5xx)."""

    message: str = "rejected by policy"
    code: int = 550


@dataclass(frozen=True)
class Defer:
    """Refuse this recipient for now; the sender retries later (SMTP 4xx)."""

    message: str = "try again later"
    code: int = 451


@dataclass(frozen=True)
class Discard:
    """Accept and silently drop the message for this recipient."""

    reason: str = "discarded by policy"


DeliveryDecision = Deliver | Reject | Defer | Discard


@dataclass(frozen=True)
class PluginFailure:
    """A plugin raised; the session answers with a temporary failure and keeps running."""

    plugin: str
    hook: str
    error: str = field(default="")


@dataclass(frozen=True)
class Pop3Action:
    """What happens to the server copy of a message a POP3 client retrieved or deleted.

    ``kind`` is one of ``keep`` (leave it as it is), ``mark_seen`` (set \\Seen), ``move``
    (to ``folder``), ``hide`` (keep it for IMAP, never show it to POP3 again) or ``expunge``.
    Actions are applied when the client QUITs (RFC 1939 UPDATE state), never on a dropped
    connection.
    """

    kind: str
    folder: str = ""

    KINDS = frozenset({"keep", "mark_seen", "move", "hide", "expunge"})

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown POP3 action {self.kind!r}")
        if self.kind == "move" and not self.folder:
            raise ValueError("a move needs a folder")


KEEP = Pop3Action("keep")
MARK_SEEN = Pop3Action("mark_seen")
HIDE = Pop3Action("hide")
EXPUNGE = Pop3Action("expunge")
