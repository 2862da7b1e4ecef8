"""mailhost's adjustments to aiosmtpd that need no socket: the MAIL/RCPT address fast path."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest
from aiosmtpd.smtp import SMTP

from mailhost.delivery.smtpd import MailhostSMTP

PIECES = ["a", "Bob", "x9", "o'neil", "first.last", "a+tag", "{x}", "~", "-", "_", "=", "ü",
          "a..b", ".lead", "trail.", '"quoted x"', "a b", "a(c)", "@", "", "[1.2.3.4]",
          "example.test", "sub.example.test", "-x-.test", "x_y.test", "EXAMPLE.Test"]
AFTER = ["", " SIZE=5000", "  BODY=8BITMIME SIZE=1", "\tSMTPUTF8", "SIZE=1", " (c) SIZE=1",
         "(c)", " ", "\t \x0b NOTIFY=NEVER", ">", " <x@y>", "\u00a0X=1", " ( SIZE=1"]


@pytest.fixture
def servers() -> Iterator[tuple[SMTP, MailhostSMTP]]:
    loop = asyncio.new_event_loop()
    plain = SMTP(object(), loop=loop)
    plain.local_part_limit = MailhostSMTP.local_part_limit
    ours = MailhostSMTP(object(), handshake_timeout=5, max_recipients=100, loop=loop)
    yield plain, ours
    loop.close()


def addresses(seed: int, count: int) -> Iterator[str]:
    """Half plain ``<dot-atom@domain>`` (the fast path), half anything from the pieces."""
    rng = random.Random(seed)
    atoms = [p for p in PIECES if p and all(c.isascii() and c not in ' ."()@[]' for c in p)]
    for n in range(count):
        if n % 2:
            local = ".".join(rng.choice(atoms) for _ in range(rng.randint(1, 3)))
            labels = rng.choice(["example.test", "x", "a-b.c-d.test", "EXAMPLE.Test"])
            yield f"<{local}@{labels}>{rng.choice(AFTER)}"
            continue
        local = rng.choice(PIECES) + rng.choice(["", ".", ""]) + rng.choice(PIECES)
        domain = rng.choice(PIECES)
        address = f"{local}@{domain}" if rng.random() < 0.9 else local
        lead = rng.choice(["<", "<", "<", " <", "", "<@route.test:"])
        close = rng.choice([">", ">", ">", ""])
        yield lead + address + close + rng.choice(AFTER)


def outcome(server: SMTP, arg: str) -> object:
    """What ``_getaddr`` returns, or the exception it raises (aiosmtpd's raises on some input)."""
    try:
        return server._getaddr(arg)
    except Exception as exc:  # compared, not hidden
        return type(exc)


def test_fast_path_parses_exactly_like_aiosmtpd(servers: tuple[SMTP, MailhostSMTP]) -> None:
    plain, ours = servers
    fixed = ["<alice@example.test>", "<alice@example.test> SIZE=5000", "<>", "", "<a" * 40,
             "<" + "l" * 64 + "@example.test>", "<" + "l" * 65 + "@example.test>",
             "<postmaster>", "<a@b>\tX=1", "<a@b>  (note) X=1", "<a@b>(note)"]
    for arg in [*fixed, *addresses(1, 5000)]:
        assert outcome(ours, arg) == outcome(plain, arg), arg
