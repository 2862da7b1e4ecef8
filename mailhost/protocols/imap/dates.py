"""IMAP date and date-time text (RFC 3501 §9 ``date``, ``date-time``), shared by parser and wire."""

from __future__ import annotations

import datetime
import re
from typing import Final

MONTHS: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
_MONTH_NUMBERS: Final = {name.upper(): number for number, name in enumerate(MONTHS, start=1)}

# date-text: 1*2DIGIT "-" date-month "-" 4DIGIT
_DATE: Final = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
# date-time body: date-day-fixed "-" date-month "-" date-year SP time SP zone
_DATE_TIME: Final = re.compile(
    rb"( [0-9]|[0-9]{2})-([A-Za-z]{3})-([0-9]{4}) "
    rb"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"
)


class DateError(ValueError):
    """Text that is not a valid IMAP date or date-time."""


def parse_date(text: bytes) -> datetime.date:
    """Parse ``1-Feb-1994`` (search keys); the month name is case-insensitive."""
    match = _DATE.fullmatch(text)
    if match is None:
        raise DateError("dates are written like 1-Feb-1994")
    day, month, year = match.groups()
    return _build_date(int(year), _month_number(month), int(day))


def parse_date_time(text: bytes) -> datetime.datetime:
    """Parse the inside of ``"17-Jul-1996 02:44:25 -0700"`` into an aware datetime."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise DateError('date-times are written like "17-Jul-1996 02:44:25 -0700"')
    day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
    date = _build_date(int(year), _month_number(month), int(day))
    offset = datetime.timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
    if int(zone_minutes) >= 60 or offset >= datetime.timedelta(hours=24):
        raise DateError("time zone offset out of range")
    zone = datetime.timezone(-offset if sign == b"-" else offset)
    try:
        moment = datetime.time(int(hour), int(minute), int(second), tzinfo=zone)
    except ValueError as exc:
        raise DateError("time of day out of range") from exc
    return datetime.datetime.combine(date, moment)


def _month_number(name: bytes) -> int:
    number = _MONTH_NUMBERS.get(name.decode("ascii").upper())
    if number is None:
        raise DateError("unknown month name")
    return number


def _build_date(year: int, month: int, day: int) -> datetime.date:
    try:
        return datetime.date(year, month, day)
    except ValueError as exc:
        raise DateError("no such day") from exc
