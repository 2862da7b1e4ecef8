"""``[plugins.leave_on_server]``: the server-wide defaults every user starts from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailhost.config import doc

Scope = Literal["all", "since_enabled"]
OnRetrieve = Literal["keep", "mark_seen", "archive", "trash", "delete"]
OnDelete = Literal["expunge", "hide"]


@dataclass(frozen=True)
class Settings:
    scope: Scope = doc(
        "Which mail POP3 sees: all, or since_enabled (only mail saved after the user's first "
        "POP3 login, Gmail's 'from now on').", "all")
    on_retrieve: OnRetrieve = doc(
        "What a download (RETR) does to the server copy at QUIT: keep, mark_seen, archive, "
        "trash or delete.", "keep")
    on_delete: OnDelete = doc(
        "What DELE then QUIT does: expunge (RFC 1939) or hide (kept for IMAP, never shown to "
        "POP3 again).", "expunge")
    keep_days: int = doc(
        "Expunge a downloaded message this many days after its download (0: keep forever); "
        "advertised as EXPIRE.", 0)
    login_delay: int = doc(
        "Minimum seconds between two POP3 logins of one user (0: none); advertised as "
        "LOGIN-DELAY.", 0)
    archive_folder: str = doc("Folder that on_retrieve = archive moves mail to.", "Archive")
    trash_folder: str = doc("Folder that on_retrieve = trash moves mail to.", "Trash")
    sweep_interval: float = doc("Seconds between runs of the keep_days expiry sweep.", 3600.0)
