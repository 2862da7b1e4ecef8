"""The ``[plugins.retention]`` section, with its checks, so a bad rule fails at config load.

A rule's meaning is checked in ``__post_init__`` (one selector, a duration that parses), and
the core loader reports :class:`~mailhost.config.InvalidValue` with the file and the full key.
The same dataclass validates the per-user overrides stored in the directory.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailhost.config import InvalidValue, doc
from mailhost.protocols.imap.handlers.mailboxes import SPECIAL_USES
from mailhost_retention.durations import parse_duration

_CANONICAL_USES = {use.lower(): use for use in SPECIAL_USES}


def _duration(key: str, text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise InvalidValue(key, str(exc), "write a number with a unit: s, m, h, d or w") from None
    if seconds <= 0:
        raise InvalidValue(key, f"{text!r} is not longer than zero", "use a positive duration")
    return seconds


@dataclass(frozen=True)
class Rule:
    """Which folders a rule covers and how long their messages stay."""

    special_use: str = doc("Folder chosen by RFC 6154 special use, e.g. \\Trash or \\Junk.", "")
    folder: str = doc("Or folders chosen by name: * matches anything, % anything but /.", "")
    max_age: str = doc("Expunge messages saved longer ago than this (30d, 12h, 2w).", "")
    max_count: int = doc("Keep only this many most recently saved messages (0: no limit).", 0)
    name: str = doc("Label for logs, reports and plugins (default: the selector).", "")

    def __post_init__(self) -> None:
        if bool(self.special_use) == bool(self.folder):
            raise InvalidValue("folder", "a rule needs exactly one of special_use and folder",
                               "keep one of the two keys")
        if self.special_use:
            canonical = _CANONICAL_USES.get(self.special_use.lower())
            if canonical is None:
                raise InvalidValue("special_use", f"unknown special use {self.special_use}",
                                   f"use one of {', '.join(sorted(SPECIAL_USES))}")
            object.__setattr__(self, "special_use", canonical)
        if self.max_age:
            _duration("max_age", self.max_age)
        if self.max_count < 0:
            raise InvalidValue("max_count", f"{self.max_count} is negative",
                               "use 0 for no limit or a positive count")

    @property
    def selector(self) -> str:
        """What the rule matches, as written: ``\\Trash`` or ``Lists/*``."""
        return self.special_use or self.folder

    @property
    def label(self) -> str:
        return self.name or self.selector

    @property
    def max_age_seconds(self) -> float | None:
        return _duration("max_age", self.max_age) if self.max_age else None

    @property
    def keeps_forever(self) -> bool:
        """A rule without limits: a user override that exempts folders from a default."""
        return not self.max_age and not self.max_count

    def describe(self) -> str:
        """The limits in words, for reports: ``max age 30d, max count 500``."""
        limits = [f"max age {self.max_age}"] if self.max_age else []
        if self.max_count:
            limits.append(f"max count {self.max_count}")
        return ", ".join(limits) or "keep forever"


@dataclass(frozen=True)
class RetentionSettings:
    rules: list[Rule] = doc(
        "Default rules for every account; per folder the first match wins, users' own first.", []
    )
    sweep: bool = doc("Sweep on a schedule inside the server (false: only the CLI sweeps).", True)
    interval: str = doc("Time between two scheduled sweeps.", "1h")
    first_sweep: str = doc("Time from server start to the first scheduled sweep.", "1m")

    def __post_init__(self) -> None:
        _duration("interval", self.interval)
        _duration("first_sweep", self.first_sweep)

    @property
    def interval_seconds(self) -> float:
        return _duration("interval", self.interval)

    @property
    def first_sweep_seconds(self) -> float:
        return _duration("first_sweep", self.first_sweep)
