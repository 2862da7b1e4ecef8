"""Lines answered from the data callback: in order, never past a line the session must see."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from mailhost.connection import Connection, IdleTimeout
from mailhost.linebuffer import LineTooLong


class FakeTransport:
    """Just enough of a transport for Connection: records writes, never pauses by itself."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def writelines(self, parts: list[bytes]) -> None:
        for part in parts:
            self.written += part

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name in ("peername", "sockname") else None

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def connected(answered: list[bytes]) -> tuple[Connection, FakeTransport]:
    """A connection whose handler answers NOOP lines and declines every other line."""
    conn = Connection(max_line=20)
    transport = FakeTransport()
    conn.connection_made(cast(asyncio.Transport, transport))

    def handler(line: bytes) -> bool:
        if line != b"NOOP":
            return False
        answered.append(line)
        conn.write(b"+OK\r\n")
        return True

    conn.line_handler = handler
    return conn, transport


async def waiting_reader(conn: Connection, timeout: float | None = None) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(conn.read_line(timeout))
    await asyncio.sleep(0)  # let it find the buffer empty and wait
    return task


async def test_lines_are_answered_while_the_reader_waits_until_one_is_declined() -> None:
    answered: list[bytes] = []
    conn, transport = connected(answered)
    reader = await waiting_reader(conn)
    conn.data_received(b"NOOP\r\nNOOP\r\nQUIT\r\nNOOP\r\n")
    assert await asyncio.wait_for(reader, 5) == b"QUIT"
    assert answered == [b"NOOP", b"NOOP"]
    assert transport.written == b"+OK\r\n+OK\r\n"
    # the NOOP after QUIT waits its turn: the reader gets it, the handler does not
    assert await conn.read_line() == b"NOOP"
    assert answered == [b"NOOP", b"NOOP"]


async def test_nothing_is_answered_while_the_session_is_busy_with_a_command() -> None:
    answered: list[bytes] = []
    conn, _ = connected(answered)
    conn.data_received(b"NOOP\r\n")  # nobody is waiting in read_line
    assert answered == []
    assert await conn.read_line() == b"NOOP"


async def test_a_partial_line_stays_buffered_and_the_reader_keeps_waiting() -> None:
    answered: list[bytes] = []
    conn, _ = connected(answered)
    reader = await waiting_reader(conn)
    conn.data_received(b"NOOP\r\nNO")
    await asyncio.sleep(0.01)
    assert answered == [b"NOOP"] and not reader.done()
    conn.data_received(b"OP\r\nRETR 1\r\n")
    assert await asyncio.wait_for(reader, 5) == b"RETR 1"
    assert answered == [b"NOOP", b"NOOP"]


async def test_an_over_long_line_goes_to_the_reader() -> None:
    conn, _ = connected([])
    reader = await waiting_reader(conn)
    conn.data_received(b"X" * 30)
    assert await asyncio.wait_for(reader, 5) == LineTooLong(20)


async def test_lines_go_to_the_reader_while_the_peer_is_not_reading() -> None:
    answered: list[bytes] = []
    conn, _ = connected(answered)
    reader = await waiting_reader(conn)
    conn.pause_writing()
    conn.data_received(b"NOOP\r\n")
    assert await asyncio.wait_for(reader, 5) == b"NOOP"
    assert answered == []


async def test_idle_timeout_counts_from_the_last_answered_line() -> None:
    conn, _ = connected([])
    reader = await waiting_reader(conn, timeout=1.0)
    await asyncio.sleep(0.5)
    conn.data_received(b"NOOP\r\n")
    await asyncio.sleep(0.7)  # 1.2 s after the wait began, 0.7 s after the last line
    assert not reader.done()
    with pytest.raises(IdleTimeout):
        await asyncio.wait_for(reader, 5)
