"""The only code that touches sockets: framing, limits, timeouts, back-pressure and STARTTLS.

Protocol sessions ask this layer for a line or a literal and hand it bytes to send; they never
see a transport. That keeps every rule about hostile peers in one place: line limits
(:mod:`mailhost.linebuffer`), idle timeouts, a bounded write buffer for clients that never
read, and STARTTLS that discards plaintext sent ahead of the handshake (CVE-2011-0411).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from collections.abc import Sequence
from typing import Any, cast

from mailhost.channel import LineHandler
from mailhost.linebuffer import LineBuffer, LineTooLong

log = logging.getLogger("mailhost.connection")

READ_HIGH_WATER = 256 * 1024
WRITE_HIGH_WATER = 256 * 1024


class ConnectionClosed(Exception):
    """The peer went away (or was disconnected); the session just ends."""


class IdleTimeout(Exception):
    """The peer said nothing for too long."""


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class _Wakeup:
    """Wakes whoever waits for "something happened" on a connection.

    asyncio.Event does the same, but each one allocates a deque of ~600 bytes up front, and a
    connection needs two (readable, writable); with thousands of idle IMAP connections that
    was a tenth of the core's memory per connection. This keeps no state besides its waiters:
    callers check their condition before waiting, as with a condition variable.
    """

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    def wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)
        try:
            await waiter
        finally:
            waiters = self._waiters
            if waiters is not None and waiter in waiters:  # cancelled or timed out
                waiters.remove(waiter)
                if not waiters:
                    self._waiters = None


class Connection(asyncio.Protocol):
    """One client connection, as an asyncio protocol with awaitable reads.

    Slotted, with nothing allocated ahead of need: an idle IMAP connection is mostly this
    object, its transport and the session's coroutine frames.

    A session may set :attr:`line_handler` to answer lines right here in
    :meth:`data_received`, without a task switch per line, whenever it is waiting in
    :meth:`read_line` (so no earlier line is still being handled and answers stay in order).
    The first line it declines, and everything after it, goes to :meth:`read_line` as usual.
    """

    __slots__ = (
        "_answered_at", "_awaiting_line", "_readable", "_reading_paused", "_want", "_writable",
        "_writing_paused", "buffer", "closed", "is_tls", "line_handler", "local_port", "on_made",
        "peer_ip", "peer_port", "transport", "write_buffer_limit",
    )

    def __init__(self, max_line: int = 8192, write_buffer_limit: int = 4 * 1024 * 1024) -> None:
        self.buffer = LineBuffer(max_line)
        self.write_buffer_limit = write_buffer_limit
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        self.peer_port = 0
        self.local_port = 0
        self.is_tls = False
        self.closed = False
        self._readable = _Wakeup()  # data, EOF or close arrived
        self._writable = _Wakeup()  # the transport's buffer drained, or the connection closed
        self._writing_paused = False
        self._want = 0  # bytes a pending read_exact needs, so reading is not paused under it
        self._reading_paused = False
        self.on_made: Any = None  # set by the server: called with this connection
        self.line_handler: LineHandler | None = None
        self._awaiting_line = False  # read_line is waiting, with no complete line buffered
        self._answered_at = 0.0  # loop time of the last line line_handler answered

    # -- asyncio.Protocol callbacks ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername") or ("", 0)
        sock = transport.get_extra_info("sockname") or ("", 0)
        self.peer_ip, self.peer_port = str(peer[0]), int(peer[1])
        self.local_port = int(sock[1])
        self.is_tls = transport.get_extra_info("sslcontext") is not None
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        self.buffer.feed(data)
        if not (self._awaiting_line and self.line_handler is not None and self._answer_lines()):
            self._readable.wake()
        if len(self.buffer) > max(READ_HIGH_WATER, self._want) and not self._reading_paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self._reading_paused = True

    def eof_received(self) -> bool | None:
        self.closed = True
        self._readable.wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._readable.wake()
        self._writable.wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._writable.wake()

    def _answer_lines(self) -> bool:
        """Let line_handler answer complete lines; False when read_line must take over.

        A line it declines (or a LineTooLong, or any line while the peer is not reading what
        was written) is given back to the buffer and everything from it on waits for
        read_line, so the reader sees lines in the order they came.
        """
        handler = self.line_handler
        assert handler is not None
        while (line := self.buffer.next_line()) is not None:
            if (self._writing_paused or self.closed or isinstance(line, LineTooLong)
                    or not handler(line)):
                self.buffer.unread(line)
                self._awaiting_line = False
                return False
            self._answered_at = asyncio.get_running_loop().time()
        return True

    # -- what sessions use ---------------------------------------------------------------

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.peer_ip)

    @property
    def is_secure(self) -> bool:
        """TLS is on for this connection (what plaintext-password rules care about)."""
        return self.is_tls

    def set_max_line(self, max_line: int) -> None:
        self.buffer.max_line = max_line

    def _resume(self) -> None:
        if self._reading_paused and not self.closed and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()

    async def _wait_data(self, timeout: float | None) -> None:
        self._resume()
        if self.closed:
            raise ConnectionClosed()
        if timeout is None:
            await self._readable.wait()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._readable.wait()
                return
            except TimeoutError:
                # Lines line_handler answered meanwhile are activity: idle counts from the last.
                deadline = self._answered_at + timeout
                if deadline <= loop.time():
                    raise IdleTimeout() from None

    async def read_line(self, timeout: float | None = None) -> bytes | LineTooLong:
        """The next line without CRLF, or LineTooLong (the rest of it will be discarded)."""
        while True:
            line = self.buffer.next_line()
            if line is not None:
                return line
            if self.closed:
                raise ConnectionClosed()
            self._awaiting_line = True
            try:
                await self._wait_data(timeout)
            finally:
                self._awaiting_line = False

    async def read_exact(self, size: int, timeout: float | None = None) -> bytes:
        """Exactly ``size`` bytes, for literals; the caller has already checked the limit."""
        self._want = size
        try:
            while True:
                chunk = self.buffer.take(size)
                if chunk is not None:
                    return chunk
                if self.closed:
                    raise ConnectionClosed()
                await self._wait_data(timeout)
        finally:
            self._want = 0

    def write(self, data: bytes) -> None:
        """Queue bytes; a peer that lets too much pile up is disconnected, not buffered for."""
        if self.closed or self.transport is None:
            return
        self.transport.write(data)
        self._check_backlog(self.transport)

    def writelines(self, parts: Sequence[bytes]) -> None:
        """Queue several buffers as one write, without joining (copying) them first."""
        if self.closed or self.transport is None:
            return
        self.transport.writelines(parts)
        self._check_backlog(self.transport)

    def _check_backlog(self, transport: asyncio.Transport) -> None:
        if transport.get_write_buffer_size() > self.write_buffer_limit:
            log.info("%s: client is not reading (write buffer over %d bytes); disconnecting",
                     self.peer_ip, self.write_buffer_limit)
            self.abort()

    async def drain(self, timeout: float | None = 120.0) -> None:
        """Wait until the peer has taken most of what was written."""
        if self.closed:
            raise ConnectionClosed()
        if not self._writing_paused:
            return
        try:
            async with asyncio.timeout(timeout):
                while self._writing_paused and not self.closed:
                    await self._writable.wait()
        except TimeoutError:
            self.abort()
            raise ConnectionClosed() from None
        if self.closed:
            raise ConnectionClosed()

    async def start_tls(self, context: ssl.SSLContext, handshake_timeout: float) -> None:
        """Upgrade to TLS, first discarding any plaintext the client sent ahead of it."""
        assert self.transport is not None
        dropped = self.buffer.clear()
        if dropped:
            log.warning("%s: discarded %d bytes of plaintext sent before the TLS handshake",
                        self.peer_ip, dropped)
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self.transport, self, context, server_side=True,
                ssl_handshake_timeout=handshake_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            self.abort()
            raise ConnectionClosed(f"TLS handshake failed: {exc}") from None
        if transport is None:
            raise ConnectionClosed("connection closed during TLS handshake")
        self.transport = transport
        self.is_tls = True
        self._reading_paused = False

    def hand_over(self, protocol: asyncio.Protocol) -> None:
        """Give the transport to another asyncio protocol (aiosmtpd's SMTP server).

        The core keeps what it owns (the listener, connection caps, implicit TLS, closing the
        socket when the session ends); the new protocol gets the transport as if it had been
        connected to it, plus any bytes the client sent before its greeting.
        """
        assert self.transport is not None and not self.closed
        pending = self.buffer.take(len(self.buffer)) or b""
        self.buffer.clear()
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        if pending:
            protocol.data_received(pending)

    def tls_info(self) -> str:
        """Protocol and cipher, for Received headers and logs."""
        if self.transport is None:
            return ""
        sslobj = self.transport.get_extra_info("ssl_object")
        if sslobj is None:
            return ""
        cipher = sslobj.cipher()
        return f"{sslobj.version()} {cipher[0] if cipher else ''}".strip()

    def close(self) -> None:
        """Flush what is queued, then close."""
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        self.closed = True
        self._readable.wake()
        self._writable.wake()
