"""aiosmtpd's SMTP and LMTP servers, adjusted where mailhost needs more than the library gives.

aiosmtpd 1.4.6 already gets the dangerous parts right, and the tests hold it to that: only
``CRLF.CRLF`` ends DATA (CVE-2023-51764 class), plaintext pipelined behind STARTTLS is dropped
and the session forgotten after the handshake (RFC 3207 §4.2), over-long lines are discarded up
to their end. What these subclasses add:

* an enhanced status code on every reply (ENHANCEDSTATUSCODES, RFC 2034), since aiosmtpd's
  built-in replies ("250 OK", "503 Error: need RCPT command") have none;
* LMTP: one reply per recipient even when DATA fails as a whole (RFC 2033 §4.2), where aiosmtpd
  sends one line and leaves an LMTP client waiting;
* per-session command length limits (aiosmtpd keeps them in a class attribute that every EHLO
  of every session raises a little further);
* the TLS handshake bounded by ``[tls] handshake_timeout`` rather than the idle timeout;
* RCPTs over ``[smtp] max_recipients`` answered 452 before their address is parsed, so a
  flood of pipelined RCPTs costs little more than reading it;
* ``[smtp] idle_timeout`` counted from the last bytes received while a message is coming in
  (aiosmtpd counts from the last command, so a big upload on a slow link was cut off);
* a way to wait for the session to end, so the core's connection accounting stays right;
* aiosmtpd's command-line logging skipped when its logger drops the line (below);
* DATA read in bulk up to ``CRLF.CRLF`` (:mod:`mailhost.delivery.dataread`) rather than one
  ``readuntil`` per line, with aiosmtpd's rules and replies: a 5 KB message cost ~0.2 ms of
  event-loop time in aiosmtpd's reader.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any, AnyStr

import aiosmtpd.smtp
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session

from mailhost.delivery.dataread import DataReader, DataState
from mailhost.delivery.recipients import Recipient
from mailhost.delivery.replies import TOO_MANY_RECIPIENTS, one_per_recipient, with_enhanced_code

log = logging.getLogger("mailhost.smtp")
mail_log = logging.getLogger("mail.log")  # aiosmtpd's logger, for the lines it would write

COMMAND_LIMIT = 512  # RFC 5321 §4.5.3.1.4, CRLF included

# ``<local@domain>`` with dot-atom parts (RFC 5322 §3.2.3 atext), as MTAs send it: for these
# the email package's parser returns the text between the brackets unchanged.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ANGLE_ADDR = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_library_sanitized_log = aiosmtpd.smtp.sanitized_log


def _sanitized_log_if_enabled(func: Callable[..., None], msg: AnyStr, *args: Any,
                              **kwargs: Any) -> None:
    """aiosmtpd's ``sanitized_log``, skipped when the line would be dropped anyway.

    aiosmtpd calls it twice per command line, and it matches a regular expression against the
    line (to mask AUTH data) before the logger looks at its level; mailhost sets aiosmtpd's
    ``mail.log`` to WARNING (delivery/plugin.py), so that work was always thrown away.
    """
    logger = getattr(func, "__self__", None)
    level = _LOG_LEVELS.get(getattr(func, "__name__", ""))
    if isinstance(logger, logging.Logger) and level is not None \
            and not logger.isEnabledFor(level):
        return
    _library_sanitized_log(func, msg, *args, **kwargs)


aiosmtpd.smtp.sanitized_log = _sanitized_log_if_enabled  # the module's global, looked up per call

_DATA_REFUSALS = {DataState.TOO_LONG: "500 Line too long (see RFC5321 4.5.3.1.6)",
                  DataState.TOO_MUCH: "552 Error: Too much mail data"}  # aiosmtpd's texts


# Timers fire on the loop's clock, which uvloop keeps in whole milliseconds: a deadline this
# close counts as reached rather than re-arming for a sliver.
_TIMER_SLACK = 0.002


def _command_limits() -> defaultdict[str, int]:
    # aiosmtpd adds room for MAIL's SIZE= and SMTPUTF8 parameters on each EHLO.
    return defaultdict(lambda: COMMAND_LIMIT)


class MailhostEnvelope(Envelope):
    """aiosmtpd's envelope plus the recipients as the pipeline knows them (account or remote)."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[Recipient] = []


class MailhostSession(Session):
    """aiosmtpd's session plus the account that logged in (a fresh one after STARTTLS)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.user: str | None = None


class MailhostSMTP(SMTP):
    """ESMTP on a connection the mailhost core accepted (see :mod:`mailhost.delivery.serve`)."""

    local_part_limit = 64  # RFC 5321 §4.5.3.1.1; longer gets 553 5.1.3

    def __init__(
        self, handler: Any, *, handshake_timeout: float, max_recipients: int, **kwargs: Any
    ) -> None:
        self.command_size_limits = _command_limits()
        self._idle_deadline = 0.0  # loop time when the session counts as idle (see _reset_timeout)
        self._timer_pending = False  # _timeout_handle is armed and has not fired
        super().__init__(handler, **kwargs)
        self.handshake_timeout = handshake_timeout
        self.max_recipients = max_recipients
        self._in_data = False
        self._held: list[bytes] = []  # replies not sent yet (see push)

    def _create_session(self) -> MailhostSession:
        return MailhostSession(self.loop)

    def _create_envelope(self) -> MailhostEnvelope:
        return MailhostEnvelope()

    async def push(self, status: AnyStr) -> None:
        """Send a reply; str replies get an enhanced status code, bytes go out verbatim.

        A success reply is held back while the client's next command line is already here,
        and goes out with the next reply that is not (RFC 2920 §3.2 lets a server batch the
        replies to a pipelined group, as long as it flushes before it waits for input). An
        MTA's MAIL, RCPT and DATA then cost one write and one wake-up of the client, not three.
        Only 250 replies and the continuation lines of a multi-line reply are held: never a
        greeting, 354, a TLS go-ahead, an AUTH challenge or an error that precedes a close.
        """
        if isinstance(status, str):
            line = with_enhanced_code(status).encode("utf-8" if self.enable_SMTPUTF8
                                                     else "ascii")
        else:
            line = status
        self._held.append(line + b"\r\n")
        if line[3:4] == b"-" or (line.startswith(b"250") and self._next_command_waiting()):
            return
        data = b"".join(self._held)
        self._held.clear()
        self._writer.write(data)
        await self._writer.drain()

    def _next_command_waiting(self) -> bool:
        """A whole command line is buffered, so the loop reads it without waiting."""
        buffered = getattr(self._reader, "_buffer", None)  # aiosmtpd itself uses it too
        return buffered is not None and b"\n" in buffered

    async def smtp_EHLO(self, hostname: str) -> None:
        self.command_size_limits = _command_limits()
        await super().smtp_EHLO(hostname)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's MAIL/RCPT address parser, with a fast path for a plain ``<addr>``.

        aiosmtpd's version defines a typing.Protocol class on every call and runs the email
        package's full RFC 5322 parser: 0.1-0.2 ms per MAIL and per RCPT here. The fast path
        takes only input that parser returns unchanged (dot-atom local part and domain, then
        nothing, or whitespace and parameters, which it strips), so the result is the same;
        everything else (quoted local parts, comments, source routes, ``<>``, non-ASCII) goes
        to aiosmtpd.
        """
        match = _PLAIN_ANGLE_ADDR.match(arg)
        if match is None:
            return super()._getaddr(arg)
        rest = arg[match.end():]
        if rest[:1] in (" ", "\t", "("):  # the parser's CFWS: it drops what follows '>'
            rest = rest.lstrip()
            if rest.startswith("("):  # a comment: leave it to the full parser
                return super()._getaddr(arg)
        address = match.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd's idle timer, moved without a new timer handle every time.

        aiosmtpd cancels its timer and makes another on every command (and here on every
        chunk of DATA); instead the deadline moves, and the timer, when it fires before the
        deadline, waits out the rest. A deadline earlier than the armed timer (the TLS
        handshake's) re-arms it.
        """
        loop = self.loop
        deadline = loop.time() + (duration or self._timeout_duration)
        self._idle_deadline = deadline
        handle = self._timeout_handle
        if self._timer_pending and handle is not None and handle.when() <= deadline:
            return
        if handle is not None:
            handle.cancel()
        self._timeout_handle = loop.call_at(deadline, self._idle_timer_fired)
        self._timer_pending = True

    def _idle_timer_fired(self) -> None:
        if self._idle_deadline - self.loop.time() > _TIMER_SLACK:  # moved since it was armed
            self._timeout_handle = self.loop.call_at(self._idle_deadline, self._idle_timer_fired)
            return
        self._timer_pending = False
        self._timeout_cb()  # type: ignore[no-untyped-call]

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_data and self.transport is not None:
            self._reset_timeout()

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA with the payload read in bulk (see :mod:`mailhost.delivery.dataread`).

        Checks, replies and the ``handle_DATA`` hook are aiosmtpd 1.4.6's; only the reading
        differs: one ``find`` for the end marker per received chunk instead of one
        ``readuntil`` per line. (aiosmtpd's fallback to the deprecated ``process_message``
        is gone: mailhost's handler has ``handle_DATA``.)
        """
        self._in_data = True
        try:
            if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
                return
            assert self.envelope is not None
            if not self.envelope.rcpt_tos:
                await self.push("503 Error: need RCPT command")
                return
            if arg:
                await self.push("501 Syntax: DATA")
                return
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._handle_data(await self._read_data())
        finally:
            self._in_data = False

    async def _read_data(self) -> DataReader:
        """Read up to and including the end marker, not a byte further.

        The StreamReader's buffer is looked at (aiosmtpd does too) so that bytes after the
        marker, the client's next pipelined command, stay there for the command loop.
        """
        data = DataReader(self.data_size_limit, self.line_length_limit)
        reader = self._reader
        try:
            while not data.done:
                buffered: bytearray = reader._buffer  # type: ignore[attr-defined]
                if buffered:
                    data.feed(await reader.readexactly(data.wanted(buffered)))
                    continue
                # Nothing buffered: wait for bytes, taking only one of them, since the marker
                # and the next command may arrive together.
                first = await reader.read(1)
                if not first:  # EOF (which also cancels this task): aiosmtpd's handling
                    raise ConnectionResetError("connection closed during DATA")
                data.feed(first)
        except asyncio.CancelledError:  # the connection was reset during DATA
            log.info("Connection lost during DATA")
            self._writer.close()
            raise
        return data

    async def _handle_data(self, data: DataReader) -> None:
        """aiosmtpd's end of DATA: the delayed 500/552, or the message to ``handle_DATA``."""
        assert self.envelope is not None
        if data.state is not DataState.NOMINAL:
            await self.push(_DATA_REFUSALS[data.state])
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            return
        original_content = data.content()
        content: str | bytes = original_content
        if self._decode_data:
            try:
                content = original_content.decode(
                    "utf-8" if self.enable_SMTPUTF8 else "ascii",
                    errors="surrogateescape" if self.enable_SMTPUTF8 else "strict")
            except UnicodeDecodeError:  # SMTPUTF8 off, and the client sent non-ASCII anyway
                await self.push("500 Error: strict ASCII mode")
                return
        self.envelope.content = content
        self.envelope.original_content = original_content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    def _plain_path(self, arg: str | None, keyword: str) -> str | None:
        """The address of ``MAIL FROM:<a@b>`` or ``RCPT TO:<a@b>`` when aiosmtpd's checks
        could only pass it on to the hook: HELO done, no AUTH needed, a plain ``<addr>``
        (see :meth:`_getaddr`) and no parameters. Anything else: None, for aiosmtpd."""
        session = self.session
        if (arg is None or session is None or not session.host_name
                or (self._auth_required and not session.authenticated)
                or arg[:len(keyword)].upper() != keyword):
            return None
        match = _PLAIN_ANGLE_ADDR.fullmatch(arg[len(keyword):].strip())
        if match is None:
            return None
        address = match.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None
        return address

    async def smtp_MAIL(self, arg: str | None) -> None:
        """aiosmtpd's MAIL; for a plain address without parameters, only its last steps (its
        checks and parameter parsing cost more than the command's own work)."""
        envelope = self.envelope
        address = self._plain_path(arg, "FROM:")
        if address is None or envelope is None or envelope.mail_from:
            await super().smtp_MAIL(arg)
            return
        envelope.smtp_utf8 = False  # no SMTPUTF8 parameter (aiosmtpd sets it each MAIL)
        await self._finish_envelope_command("MAIL", address)

    async def smtp_RCPT(self, arg: str | None) -> None:
        """aiosmtpd's RCPT, after the max_recipients cap; for a plain address without
        parameters only its last steps, as in :meth:`smtp_MAIL`."""
        envelope = self.envelope
        if envelope is not None and len(envelope.rcpt_tos) >= self.max_recipients:
            await self.push(str(TOO_MANY_RECIPIENTS))
            return
        address = self._plain_path(arg, "TO:")
        if address is None or envelope is None or not envelope.mail_from:
            await super().smtp_RCPT(arg)
            return
        await self._finish_envelope_command("RCPT", address)

    async def _finish_envelope_command(self, command: str, address: str) -> None:
        """The end of aiosmtpd's smtp_MAIL / smtp_RCPT: the hook, or its default, and the reply."""
        assert self.envelope is not None and self.session is not None
        status = await self._call_handler_hook(command, address, [])
        if status is MISSING:
            if command == "MAIL":
                self.envelope.mail_from = address
            else:
                self.envelope.rcpt_tos.append(address)
            status = "250 OK"
        mail_log.info("%r %s: %s", self.session.peer,
                      "sender" if command == "MAIL" else "recip", address)
        await self.push(status)

    async def smtp_STARTTLS(self, arg: str) -> None:
        """aiosmtpd's STARTTLS, with the idle timer shortened to the handshake timeout."""
        self._reset_timeout(self.handshake_timeout)
        try:
            await super().smtp_STARTTLS(arg)
        finally:
            if self.transport is not None:
                self._reset_timeout()

    # -- what the handler and serve() use ---------------------------------------------------

    def is_tls(self) -> bool:
        """TLS is on now (implicit, or after STARTTLS)."""
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    def tls_description(self) -> str:
        """Protocol version and cipher, for the Received header."""
        transport = self.transport
        sslobj = transport.get_extra_info("ssl_object") if transport is not None else None
        if sslobj is None:
            return ""
        cipher = sslobj.cipher()
        return f"{sslobj.version()} {cipher[0] if cipher else ''}".strip()

    async def finished(self) -> None:
        """Wait for the session to end: QUIT, EOF, idle timeout or a dropped connection."""
        task = self._handler_coroutine
        if task is None:
            return
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            log.debug("SMTP session ended with %r", task.exception())

    def close(self) -> None:
        """Stop the session and close the connection (idempotent)."""
        task = self._handler_coroutine
        if task is not None and not task.done():
            task.cancel()
        if self.transport is not None:
            self.transport.close()


class MailhostLMTP(MailhostSMTP, LMTP):
    """LMTP (RFC 2033): LHLO instead of EHLO, and one reply per recipient after DATA."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._replies_due = 0

    async def smtp_LHLO(self, arg: str) -> None:
        self.command_size_limits = _command_limits()
        await super().smtp_LHLO(arg)

    async def smtp_DATA(self, arg: str) -> None:
        try:
            await super().smtp_DATA(arg)
        finally:
            self._replies_due = 0

    async def push(self, status: AnyStr) -> None:
        if self._in_data and isinstance(status, str):
            if status.startswith("354"):
                assert self.envelope is not None
                self._replies_due = len(self.envelope.rcpt_tos)
            elif self._replies_due:
                status = one_per_recipient(status, self._replies_due)
                self._replies_due = 0
        await super().push(status)
