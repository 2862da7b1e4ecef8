"""The bulk DATA reader against aiosmtpd's own line-by-line one, on the edges a bulk reader
gets wrong: the end marker split across reads, lines at the length limit, dot-stuffing at a
read boundary, an empty message, the size limit (with bounded memory), and the next pipelined
command arriving with the end marker.

Both servers run in-process on one event loop, with a StreamReader fed piece by piece by
another task, so every piece is read before the next arrives: the read boundaries are exactly
the ones a test asks for. aiosmtpd 1.4.6's ``SMTP.smtp_DATA`` is the oracle for replies, the
delivered bytes and what stays in the buffer for the command loop.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailhost.delivery.dataread import END, DataReader, DataState
from mailhost.delivery.smtpd import MailhostSMTP

LINE_LIMIT = SMTP.line_length_limit  # 1001 octets with the CRLF
NEXT = b"NOOP\r\n"


class Writer:
    def __init__(self) -> None:
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        pass


class Handler:
    def __init__(self) -> None:
        self.delivered: list[bytes] = []
        self.decoded: list[str | bytes | None] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        self.delivered.append(envelope.original_content)
        self.decoded.append(envelope.content)
        return "250 OK"


Outcome = tuple[list[bytes], list[bytes], bytes]  # reply codes, delivered, left in the buffer


async def _data(server: SMTP, handler: Handler, pieces: Sequence[bytes]) -> Outcome:
    writer = Writer()
    server._writer = writer  # type: ignore[assignment]
    server.transport = object()  # type: ignore[assignment]  # aiosmtpd's loop checks it
    server.session = Session(asyncio.get_running_loop())
    server.session.host_name = "client.test"
    server.envelope = server._create_envelope()
    server.envelope.rcpt_tos.append("alice@example.test")
    reader = server._stream_reader  # type: ignore[attr-defined]  # made for aiosmtpd in __init__
    assert reader is not None
    server._reader = reader  # as connection_made would

    async def feed() -> None:
        for piece in pieces:
            await asyncio.sleep(0)
            await asyncio.sleep(0)  # the DATA task has taken everything before this piece
            reader.feed_data(piece)

    feeding = asyncio.create_task(feed())
    await asyncio.wait_for(server.smtp_DATA(""), 10)
    await feeding
    sent = writer.sent + b"".join(getattr(server, "_held", []))  # a 250 held for the NOOP
    codes = [line[:3] for line in sent.split(b"\r\n") if line]
    assert codes[0] == b"354"
    left = bytes(reader._buffer)
    return codes[1:], handler.delivered, left


def outcomes(pieces: Sequence[bytes], size_limit: int | None = 100_000,
             **options: Any) -> tuple[Outcome, Outcome]:
    """What aiosmtpd and mailhost do with DATA arriving in these pieces (after the 354)."""
    async def both() -> tuple[Outcome, Outcome]:
        theirs, ours = Handler(), Handler()
        options.setdefault("enable_SMTPUTF8", True)
        plain = SMTP(theirs, data_size_limit=size_limit, **options)
        mine = MailhostSMTP(ours, handshake_timeout=5, max_recipients=100,
                            data_size_limit=size_limit, **options)
        results = await _data(plain, theirs, pieces), await _data(mine, ours, pieces)
        assert ours.decoded == theirs.decoded
        return results

    return asyncio.run(both())


def same(pieces: Sequence[bytes], size_limit: int | None = 100_000) -> Outcome:
    expected, got = outcomes(pieces, size_limit)
    assert got == expected
    return got


def test_end_marker_split_at_every_point() -> None:
    body = b"Subject: x\r\n\r\nbody\r\n"
    for data in (body + b".\r\n", b".\r\n", b"\r\n.\r\n", b"..\r\n.\r\n"):
        for first in range(1, len(data)):
            for second in range(first, len(data)):
                pieces = [data[:first], data[first:second], data[second:] + NEXT]
                assert same([p for p in pieces if p])[1:] == (
                    [data[:-3].replace(b"\r\n.", b"\r\n").removeprefix(b".")], NEXT)


def test_message_split_into_single_octets() -> None:
    data = b"a\r\n.\r\n..x\r\n.\n.\r.\r\nb\r\n.\r\n" + NEXT
    assert same([data[i:i + 1] for i in range(len(data))]) == (
        [b"250"], [b"a\r\n"], b"..x\r\n.\n.\r.\r\nb\r\n.\r\n" + NEXT)


def test_empty_message() -> None:
    assert same([b".\r\n" + NEXT]) == ([b"250"], [b""], NEXT)


@pytest.mark.parametrize("length", [LINE_LIMIT - 1, LINE_LIMIT, LINE_LIMIT + 1,
                                    LINE_LIMIT + 2, LINE_LIMIT + 3, 5000])
def test_line_at_the_length_limit(length: int) -> None:
    line = b"x" * (length - 2) + b"\r\n"  # length octets with the CRLF
    codes, delivered, left = same([b"a\r\n" + line + b".\r\n" + NEXT])
    assert codes == ([b"250"] if length <= LINE_LIMIT else [b"500"]) and left == NEXT
    assert delivered == ([b"a\r\n" + line] if length <= LINE_LIMIT else [])


def test_long_line_split_everywhere_near_the_limit() -> None:
    line = b"." + b"y" * (LINE_LIMIT - 4) + b"\r\n"  # stuffed, and exactly at the limit
    data = line + line + b".\r\n" + NEXT
    for cut in range(LINE_LIMIT - 6, LINE_LIMIT + 6):
        assert same([data[:cut], data[cut:]])[0] == [b"250"]


def test_dot_stuffed_line_at_a_read_boundary() -> None:
    data = b"a\r\n..b\r\n...\r\n.\r\n"
    for cut in range(len(data) - 1):
        assert same([data[:cut + 1], data[cut + 1:]]) == (
            [b"250"], [b"a\r\n.b\r\n..\r\n"], b"")


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"])
def test_only_crlf_dot_crlf_ends_data_at_any_boundary(fake_end: bytes) -> None:
    data = b"x" + fake_end + b"MAIL FROM:<a@b>\r\n.\r\n"
    for cut in range(1, len(data)):
        codes, [delivered], left = same([data[:cut], data[cut:]])
        assert codes == [b"250"] and delivered == data[:-3].replace(b"\r\n.", b"\r\n")
        assert left == b""


def test_size_limit_exactly() -> None:
    payload = b"12345678\r\n" * 10  # 100 octets
    assert same([payload + b".\r\n"], size_limit=100)[0] == [b"250"]
    assert same([payload + b".\r\n"], size_limit=99)[0] == [b"552"]
    assert same([b"." + payload + b".\r\n"], size_limit=100)[0] == [b"552"]  # stuffing counts
    assert same([payload + b".\r\n"], size_limit=0)[0] == [b"250"]  # 0: no limit


def test_too_long_or_too_much_whichever_comes_first() -> None:
    long_line = b"z" * 1500 + b"\r\n"
    for limit in (50, 1000, 1490, 1505, 1510, 5000):
        for body in (b"a\r\n" + long_line, long_line + b"b\r\n" * 30,
                     b"c" * 999 + b"\r\n" + b"d" * 1000 + b"\r\n",
                     b"e" * 1000 + b"\r\n" + b"f" * 1001 + b"\r\n"):
            data = body + b".\r\n" + NEXT
            for cut in (1, 700, 1003, 1498, len(body) - 1):
                same([data[:cut], data[cut:]], size_limit=limit)


def test_huge_data_over_the_limit_keeps_memory_bounded() -> None:
    limit, piece = 20_000, b"0123456789abcdef" * 4096  # 64 KiB a piece
    data = DataReader(limit, LINE_LIMIT)
    most = 0
    for _ in range(160):  # 10 MiB, no line end at all
        data.feed(piece)
        most = max(most, data._kept_size)
    data.feed(b"\r\n.\r\n")
    assert data.done and data.state is DataState.TOO_LONG and most <= limit + 2 * len(piece)
    lines = DataReader(limit, LINE_LIMIT)
    for _ in range(160):  # 10 MiB of short lines
        lines.feed(b"x" * 62 + b"\r\n")
        lines.feed((b"x" * 62 + b"\r\n") * 1024)
        most = max(most, lines._kept_size)
    lines.feed(b".\r\n")
    assert lines.done and lines.state is DataState.TOO_MUCH and most <= limit + 2 * len(piece)
    assert same([b"x" * 62 + b"\r\n"] * 400 + [b".\r\n" + NEXT], size_limit=limit)[:2] == (
        [b"552"], [])


@pytest.mark.parametrize("smtputf8", [True, False])
def test_decode_data(smtputf8: bool) -> None:
    for data in (b"plain\r\n.\r\n", "Grüße\r\n.\r\n".encode(), b"\xff\r\n.\r\n"):
        expected, got = outcomes([data], decode_data=True, enable_SMTPUTF8=smtputf8)
        assert got == expected


def test_wanted_stops_at_the_marker() -> None:
    data = DataReader(None, LINE_LIMIT)
    buffered = b"a\r\n.\r\nNOOP\r\n"
    assert data.wanted(buffered) == len(buffered) - len(NEXT)
    data.feed(b"a\r")
    assert data.wanted(b"\n.\r\n" + NEXT) == 4 and not data.done
    data.feed(b"\n.\r\n")
    assert data.done and data.content() == b"a\r\n" and END == b"\r\n.\r\n"


TOKENS = [b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b".", b".", b"..", b"x", b"hello world",
          b"\r\n.", b".\r\n", b"\r\n.\r", b"\n.\n"]


def _random_data(rng: random.Random) -> bytes:
    parts: list[bytes] = []
    for _ in range(rng.randint(0, 40)):
        if rng.random() < 0.08:
            parts.append(b"L" * rng.choice([997, 998, 999, 1000, 1001, 1002, 1500, 3000]))
        else:
            parts.append(rng.choice(TOKENS))
    return b"".join(parts) + b"\r\n.\r\n" + NEXT


def test_random_input_random_boundaries_random_limits() -> None:
    rng = random.Random(2033)
    for _ in range(400):
        data = _random_data(rng)
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 6))))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        limit: Any = rng.choice([None, 0, 5, 50, 500, 1000, 1003, 2000, 5000, 100_000])
        expected, got = outcomes(pieces, limit)
        assert got == expected, (pieces, limit)
