"""A user's effective POP3 policy and what it means for each message. Pure functions.

The server-wide settings are the defaults; each user may override any of the five choices,
and the overrides are stored with the account (``mailhost pop3-policy set``).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, fields, replace
from typing import Any

from mailhost.decisions import EXPUNGE, HIDE, KEEP, MARK_SEEN, Pop3Action
from mailhost.protocols.pop3.maildrop import Pop3Advert
from mailhost_leave_on_server.settings import OnDelete, OnRetrieve, Scope, Settings

USER_KEYS = ("scope", "on_retrieve", "on_delete", "keep_days", "login_delay")
CHOICES: dict[str, tuple[str, ...]] = {
    "scope": typing.get_args(Scope),
    "on_retrieve": typing.get_args(OnRetrieve),
    "on_delete": typing.get_args(OnDelete),
}


class PolicyError(ValueError):
    """A per-user setting that does not exist or has an impossible value."""


@dataclass(frozen=True)
class Policy:
    scope: str
    on_retrieve: str
    on_delete: str
    keep_days: int
    login_delay: int
    archive_folder: str
    trash_folder: str

    @classmethod
    def effective(cls, settings: Settings, overrides: dict[str, Any] | None) -> Policy:
        base = cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})
        return replace(base, **{k: v for k, v in (overrides or {}).items() if k in USER_KEYS})

    def retrieve_action(self) -> Pop3Action:
        return {
            "keep": KEEP,
            "mark_seen": MARK_SEEN,
            "archive": Pop3Action("move", self.archive_folder),
            "trash": Pop3Action("move", self.trash_folder),
            "delete": EXPUNGE,
        }[self.on_retrieve]

    def delete_action(self) -> Pop3Action:
        return HIDE if self.on_delete == "hide" else EXPUNGE

    def records_downloads(self) -> bool:
        """keep_days expiry applies to messages a download leaves where they are."""
        return self.keep_days > 0 and self.on_retrieve in ("keep", "mark_seen")

    def advert(self) -> Pop3Advert:
        """RFC 2449 EXPIRE: 0 when a download removes mail from the POP3 view at once."""
        if self.on_retrieve in ("archive", "trash", "delete"):
            expire: int | None = 0
        elif self.keep_days > 0:
            expire = self.keep_days
        else:
            expire = None
        return Pop3Advert(expire_days=expire, login_delay=self.login_delay)

    def visible(self, savedate: float, enabled_at: float | None) -> bool:
        if self.scope != "since_enabled" or enabled_at is None:
            return True
        return savedate >= enabled_at


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; ``key=default`` removes a user's override."""
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep:
        raise PolicyError(f"{text!r}: expected key=value")
    if key not in USER_KEYS:
        raise PolicyError(f"unknown setting {key!r}; choose from {', '.join(USER_KEYS)}")
    value = value.strip()
    if value == "default":
        return key, None
    if key in CHOICES:
        if value not in CHOICES[key]:
            raise PolicyError(f"{key} must be one of {', '.join(CHOICES[key])}, not {value!r}")
        return key, value
    if not value.isdigit():
        raise PolicyError(f"{key} must be a whole number of "
                          f"{'days' if key == 'keep_days' else 'seconds'}, not {value!r}")
    return key, int(value)
