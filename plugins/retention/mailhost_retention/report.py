"""What a sweep did (or would do), per user and folder, and how it reads on a terminal.

The sweep fills these records; the CLI prints them and the server logs them, so a dry run and a
real run are described by the same code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mailhost_retention.policy import Hold, Source


@dataclass
class FolderResult:
    mailbox: str
    rule: str
    source: Source
    limits: str
    expunged: list[int] = field(default_factory=list)  # or "would be", in a dry run
    by_age: int = 0
    by_count: int = 0
    kept: list[int] = field(default_factory=list)  # selected, then vetoed by a plugin
    error: str | None = None


@dataclass
class UserResult:
    user: str
    hold: Hold | None = None
    folders: list[FolderResult] = field(default_factory=list)
    error: str | None = None

    @property
    def expunged(self) -> int:
        return sum(len(folder.expunged) for folder in self.folders)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(f.error is not None for f in self.folders)


def uid_ranges(uids: Iterable[int]) -> str:
    """UIDs as an IMAP sequence set (``1:3,7``), short enough for a log line."""
    out: list[str] = []
    ordered = sorted(set(uids))
    start = prev = None
    for uid in [*ordered, None]:
        if uid is not None and prev is not None and uid == prev + 1:
            prev = uid
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    return ",".join(out)


def format_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def _folder_line(folder: FolderResult, verb: str) -> str:
    head = f"  {folder.mailbox}: rule {folder.rule} ({folder.source}, {folder.limits})"
    if folder.error is not None:
        return f"{head}: error: {folder.error}"
    parts = []
    if folder.expunged:
        parts.append(f"{verb} {len(folder.expunged)} (by age {folder.by_age}, by count "
                     f"{folder.by_count}): uids {uid_ranges(folder.expunged)}")
    if folder.kept:
        parts.append(f"kept by plugins: uids {uid_ranges(folder.kept)}")
    return f"{head}: " + "; ".join(parts)


def format_results(results: Sequence[UserResult], dry_run: bool) -> list[str]:
    """One line per user, then one per folder where something happened."""
    verb = "would expunge" if dry_run else "expunged"
    lines: list[str] = []
    for result in results:
        if result.error is not None:
            lines.append(f"{result.user}: error: {result.error}")
        elif result.hold is not None:
            lines.append(f"{result.user}: legal hold since {format_time(result.hold.since)} "
                         f"({result.hold.reason or 'no reason given'}); nothing expires")
        elif not result.folders:
            lines.append(f"{result.user}: nothing to expunge")
        else:
            lines.append(f"{result.user}: {verb} {result.expunged}")
        lines.extend(_folder_line(folder, verb) for folder in result.folders)
    total = sum(result.expunged for result in results)
    lines.append(f"total: {verb} {total} message{'s' if total != 1 else ''} "
                 f"for {len(results)} user{'s' if len(results) != 1 else ''}")
    return lines
