"""mailhost's log lines read exactly as logging.Formatter with the same format writes them."""

from __future__ import annotations

import logging
import sys

import pytest

from mailhost.logs import LINE_FORMAT, LineFormatter


def record(created: float, msg: str = "delivered %s", args: tuple[object, ...] = ("x",),
           exc_info: object = None) -> logging.LogRecord:
    rec = logging.LogRecord("mailhost.delivery", logging.INFO, __file__, 1, msg, args,
                            exc_info)  # type: ignore[arg-type]
    rec.created = created
    rec.msecs = (created - int(created)) * 1000
    return rec


@pytest.mark.parametrize("created", [0.0, 1_700_000_000.0, 1_700_000_000.9996,
                                     1_700_000_001.25, 1_711_846_799.5, 1_711_846_800.5])
def test_line_is_the_standard_formatters(created: float) -> None:
    ours = LineFormatter()
    ours.format(record(created - 1))  # a remembered second that is not this one
    assert ours.format(record(created)) == logging.Formatter(LINE_FORMAT).format(record(created))


def test_exception_text_is_the_standard_formatters() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        info = sys.exc_info()
    expected = logging.Formatter(LINE_FORMAT).format(record(1.5, exc_info=info))
    assert LineFormatter().format(record(1.5, exc_info=info)) == expected
    assert "ValueError: boom" in expected
