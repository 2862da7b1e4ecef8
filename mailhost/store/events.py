"""Change events the store emits after each committed change, for hooks and push.

Policy plugins and push notifiers follow mailboxes through one hook,
``mailhost_store_event``, instead of wrapping every protocol command that can change mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

EventKind = Literal[
    "mailbox_created", "mailbox_renamed", "mailbox_deleted",
    "message_stored", "flags_changed", "expunged",
]


@dataclass(frozen=True)
class StoreEvent:
    """One committed change. ``uids`` name the messages concerned, in ``mailbox``."""

    kind: EventKind
    account: str
    mailbox: str
    uids: tuple[int, ...] = ()
    new_name: str | None = None  # mailbox_renamed only


StoreObserver = Callable[[StoreEvent], None]
