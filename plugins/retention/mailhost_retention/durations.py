"""Durations as admins write them (``30d``, ``12h``, ``1w2d``), not as raw seconds.

Retention periods are days or weeks; asking for ``2592000`` invites off-by-a-zero mistakes
that delete mail, so only the unit-suffixed form is accepted.
"""

from __future__ import annotations

import re

UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``90m``, ``1d12h``, ``0.5s``); ValueError if it is not that form."""
    compact = text.strip().lower()
    if not _WHOLE.fullmatch(compact):
        raise ValueError(f"{text!r} is not a duration such as 30d, 12h, 90m or 1w2d")
    return sum(float(amount) * UNITS[unit] for amount, unit in _PART.findall(compact))
