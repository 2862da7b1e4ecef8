"""mailhost's adjustments to aiosmtpd that need no socket: the MAIL/RCPT fast paths and the
idle timer."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator

import aiosmtpd.smtp
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


def test_idle_timer_moves_its_deadline_and_fires_only_when_it_is_reached(
        servers: tuple[SMTP, MailhostSMTP]) -> None:
    """One timer handle, re-armed only when it fires early or a shorter timeout comes."""
    _plain, ours = servers
    timeouts: list[float] = []
    ours._timeout_cb = lambda: timeouts.append(ours.loop.time())  # type: ignore[method-assign]
    ours._timeout_duration = 100.0
    ours._reset_timeout()
    first = ours._timeout_handle
    assert first is not None
    ours._reset_timeout()  # a command: the deadline moves, the handle stays
    assert ours._timeout_handle is first and not first.cancelled()
    assert ours._idle_deadline >= first.when()
    ours._idle_timer_fired()  # the handle fires at its (old) time: wait out the rest
    assert timeouts == []
    rearmed = ours._timeout_handle
    assert rearmed is not first and rearmed is not None
    assert rearmed.when() == ours._idle_deadline
    ours._reset_timeout(5.0)  # the TLS handshake: sooner than the armed timer
    assert rearmed.cancelled()
    assert ours._timeout_handle is not None and ours._timeout_handle.when() == ours._idle_deadline
    ours._idle_deadline = ours.loop.time()  # the deadline is reached when the timer fires
    ours._idle_timer_fired()
    assert len(timeouts) == 1
    ours._reset_timeout()  # a fired timer is armed again, not mistaken for a pending one
    assert ours._timeout_handle is not None and not ours._timeout_handle.cancelled()
    assert ours._timer_pending


ENVELOPE_ARGS = [None, "", "FROM:<a@example.test>", "from: <a@example.test>", "FROM:<>",
                 "FROM:<a@example.test> SIZE=10", "FROM:<a@example.test> BODY=8BITMIME",
                 "FROM:<a b@example.test>", "FROM:a@example.test", "FROM:<a@example.test>x",
                 "FROM:<" + "l" * 65 + "@example.test>", "FROM:<\"q\"@example.test>",
                 "TO:<b@example.test>", "to:<B@Example.Test>", "TO:<b@example.test> NOTIFY=NEVER",
                 "TO:<>", "TO:b@example.test", "TO:<postmaster>", "FROM:<a@example.test> SMTPUTF8"]


def _state(server: MailhostSMTP) -> tuple[object, ...]:
    envelope = server.envelope
    assert envelope is not None
    return (envelope.mail_from, envelope.mail_options, envelope.rcpt_tos, envelope.rcpt_options,
            envelope.smtp_utf8)


async def _replies(server: MailhostSMTP, command: str, arg: str | None, base: bool,
                   *, helo: bool, mail_from: str | None, utf8: bool) -> tuple[object, ...]:
    sent: list[str] = []

    async def push(status: str) -> None:
        sent.append(status)

    server.push = push  # type: ignore[method-assign]
    server.session = server._create_session()
    server.session.host_name = "client.example.test" if helo else None
    server.session.extended_smtp = True
    server.envelope = server._create_envelope()
    server.envelope.mail_from = mail_from
    server.envelope.smtp_utf8 = utf8
    method = getattr(SMTP if base else MailhostSMTP, f"smtp_{command}")
    await method(server, arg)
    return (sent, _state(server))


async def test_mail_and_rcpt_fast_paths_answer_like_aiosmtpd() -> None:
    loop = asyncio.get_running_loop()
    server = MailhostSMTP(object(), handshake_timeout=5, max_recipients=100, loop=loop,
                          enable_SMTPUTF8=True)
    for command in ("MAIL", "RCPT"):
        for arg in ENVELOPE_ARGS:
            for helo in (True, False):
                for mail_from in (None, "x@example.test"):
                    for utf8 in (False, True):
                        kwargs = {"helo": helo, "mail_from": mail_from, "utf8": utf8}
                        ours = await _replies(server, command, arg, False, **kwargs)
                        theirs = await _replies(server, command, arg, True, **kwargs)
                        assert ours == theirs, (command, arg, kwargs)


def test_aiosmtpd_command_logging_is_skipped_when_its_logger_drops_it(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    sanitized: list[bytes] = []
    real_sanitize = aiosmtpd.smtp.sanitize
    monkeypatch.setattr(aiosmtpd.smtp, "sanitize",
                        lambda text: sanitized.append(text) or real_sanitize(text))
    library_log = logging.getLogger("mail.log")
    line = b"AUTH PLAIN c2VjcmV0\r\n"
    level = library_log.level
    try:
        library_log.setLevel(logging.WARNING)  # as the delivery plugin sets it
        aiosmtpd.smtp.sanitized_log(library_log.info, "%r >> %r", "peer", line)
        assert sanitized == []  # no regular expression run for a line nobody sees
        with caplog.at_level(logging.DEBUG, logger="mail.log"):
            aiosmtpd.smtp.sanitized_log(library_log.info, "%r >> %r", "peer", line)
    finally:
        library_log.setLevel(level)
    assert sanitized == [line]
    assert "********" in caplog.text and "c2VjcmV0" not in caplog.text  # still masked
