"""IMAP4rev1 connection states (RFC 3501 §3), on their own so commands and session share them."""

from __future__ import annotations

import enum


class State(enum.Enum):
    """Where a connection stands; each command class lists the states that allow it."""

    NOT_AUTHENTICATED = "not-authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"
