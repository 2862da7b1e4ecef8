"""The process's log lines: ``TIME LEVEL LOGGER: message`` on stderr, made cheaply.

``mailhost serve`` writes a line per delivery and per login, so a log call is on the hot path
of every message: the standard set-up spent ~16 us on each (hot loop), mostly on a field no
line shows (the caller's file and function, found by walking the stack) and on formatting the
same second's timestamp again; ~7 us now. The text of every line is what
``logging.basicConfig`` with :data:`LINE_FORMAT` writes (the fail2ban filter in deploy/ matches
it).
"""

from __future__ import annotations

import logging
import time

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LineFormatter(logging.Formatter):
    """logging.Formatter for :data:`LINE_FORMAT`: the time text made once per second, and the
    line put together directly rather than by ``%`` on the record's dict."""

    def __init__(self) -> None:
        super().__init__(LINE_FORMAT)
        self._second: tuple[int, str] = (-1, "")  # (whole second, its text), swapped whole

    def usesTime(self) -> bool:
        return True

    def formatMessage(self, record: logging.LogRecord) -> str:
        return f"{record.asctime} {record.levelname} {record.name}: {record.message}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second, text = self._second
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, text)
        return f"{text},{int(record.msecs):03d}"  # logging's default_msec_format


def configure_logging(level: int | str) -> None:
    """Log to stderr at ``level``, leaving out what :data:`LINE_FORMAT` does not show.

    The logging docs' "Optimization" section names these switches: with them a record does
    not walk the stack for its caller (the costly part) nor look up the multiprocessing
    process name. A handler a plugin adds that shows those fields gets their "unknown"
    values (strings, so no format fails); thread and process ids are kept: they cost little.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(LineFormatter())
    logging.basicConfig(level=level, handlers=[handler])
    logging.logMultiprocessing = False
    logging._srcfile = None  # no caller lookup (see above)
