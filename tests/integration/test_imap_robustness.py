"""Hostile and broken IMAP input against a real server: literal limits, nesting, bad
strings and names, message bombs, escapes from the account, STARTTLS injection and
over-long lines. Each test also checks that nothing else happened on the server."""

from __future__ import annotations

import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, BOB, RawImap, fetch_items
from tests.unit.imap_grammar import validate_body, validate_envelope
from tests.unit.mime_samples import huge_subject, many_header_lines, many_parts, nested_multipart


def status_of(line: bytes) -> bytes:
    """OK, NO or BAD from a tagged (or untagged) status line."""
    return line.split(b" ")[1]


def mailbox_names(server: MailhostTestServer, user: str) -> list[str]:
    async def names(mail: object) -> list[str]:
        return [box.name for box in await mail.list_mailboxes()]  # type: ignore[attr-defined]
    return server.with_mail(user, names)


@pytest.fixture
def shared_raw(module_users: MailhostTestServer) -> Iterator[RawImap]:
    """A fresh connection to the module's server, for tests that change nothing there."""
    raw = RawImap(module_users.port("imap", "starttls"))
    yield raw
    raw.close()


# -- literals ------------------------------------------------------------------------


def test_preauth_literal_over_the_limit_is_refused_without_allocating(
    users: MailhostTestServer, raw_imap: RawImap,
) -> None:
    limit = users.config.imap.max_literal_preauth
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        raw_imap.send(b"a LOGIN {1000000000}\r\n")  # a gigabyte announced, nothing sent
        refusal = raw_imap.line()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refusal == b"a NO [TOOBIG] literal too large\r\n"  # no "+": nothing is read
    assert peak < 20_000_000  # the server (this process) never allocated the announced size
    raw_imap.send(b"b LOGIN {%d}\r\n" % (limit + 1))
    assert raw_imap.line().startswith(b"b NO [TOOBIG]")
    raw_imap.send(b"c LOGIN {%d}\r\n" % limit)
    assert raw_imap.line().startswith(b"+ ")  # at the limit: accepted
    raw_imap.send(b"x" * limit + b" y\r\n")
    assert status_of(raw_imap.line()) == b"NO"  # a failed login, after reading it all
    assert raw_imap.ok(b"NOOP") == []  # and the connection is still in step


def test_append_is_bounded_by_appendlimit(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"imap": {"append_limit": 1000}})
    server.add_user(ALICE, "pw")
    raw = RawImap(server.port("imap", "starttls"))
    raw.login(ALICE, "pw")
    assert b"APPENDLIMIT=1000" in raw.ok(b"CAPABILITY")[0].split()
    raw.send(b"a APPEND INBOX {1001}\r\n")
    assert raw.line() == b"a NO [TOOBIG] literal too large\r\n"
    raw.send(b"b APPEND INBOX {1000}\r\n")
    assert raw.line().startswith(b"+ ")
    raw.send(b"Subject: at the limit\r\n\r\n" + b"x" * 973 + b"\r\n" + b"\r\n")
    assert raw.line().startswith(b"b OK [APPENDUID ")
    assert server.mailbox_uids(ALICE) == [1]
    raw.close()


@pytest.mark.parametrize("announce", [b"{1001+}", b"{4294967295+}"])
def test_rejected_nonsync_literal_is_never_parsed_as_commands(
    mailhost_server_factory: ServerFactory, announce: bytes,
) -> None:
    server = mailhost_server_factory(overrides={"imap": {"append_limit": 1000}})
    server.add_user(ALICE, "pw")
    raw = RawImap(server.port("imap", "starttls"))
    raw.login(ALICE, "pw")
    smuggled = b"b CREATE smuggled\r\nc LOGOUT\r\n" * 50
    raw.send(b"a APPEND INBOX " + announce + b"\r\n" + smuggled)
    assert raw.line() == b"a NO [TOOBIG] literal too large\r\n"
    assert raw.line().startswith(b"* BYE ")
    assert raw.is_closed()  # closed before a single smuggled line was read as a command
    assert mailbox_names(server, ALICE) == ["INBOX"]
    raw.close()


def test_four_gigabyte_literal(users: MailhostTestServer) -> None:
    """{4294967295} is refused at once, and the session then ends cleanly."""
    for login in (False, True):
        raw = RawImap(users.port("imap", "starttls"))
        if login:
            raw.login()
        raw.send(b"a APPEND INBOX {4294967295}\r\n" if login else b"a LOGIN {4294967295}\r\n")
        assert raw.line() == b"a NO [TOOBIG] literal too large\r\n"
        assert [status_of(line) for line in raw.command(b"LOGOUT")] == [b"BYE", b"OK"]
        assert raw.is_closed()
        raw.close()
    raw = RawImap(users.port("imap", "starttls"))
    raw.send(b"a LOGIN {4294967295+}\r\nb CAPABILITY\r\n")
    assert raw.line() == b"a NO [TOOBIG] literal too large\r\n"
    assert raw.line().startswith(b"* BYE ")
    assert raw.is_closed()
    raw.close()
    raw = RawImap(users.port("imap", "starttls"))
    raw.send(b"a LOGIN {99999999999999999999}\r\n")  # more than 64 bits
    assert status_of(raw.line()) == b"BAD"
    assert raw.ok(b"NOOP") == []
    raw.close()


# -- parser input ----------------------------------------------------------------------


def test_deep_nesting_gets_bad_without_recursion_error(
    users: MailhostTestServer, raw_imap: RawImap, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    raw_imap.send(b"a ID " + b"(" * 100_000 + b"\r\n")  # over the line limit as well
    assert raw_imap.line().startswith(b"* BAD line too long")
    raw_imap.send(b"b ID " + b"(" * 60_000 + b"\r\n")  # within it: the parser's depth limit
    assert status_of(raw_imap.line()) == b"BAD"
    raw_imap.login()
    raw_imap.ok(b"SELECT INBOX")
    for search in (b"(" * 20_000 + b"ALL" + b")" * 20_000, b"NOT " * 15_000 + b"ALL",
                   b"OR ALL " * 9_000 + b"ALL"):
        assert status_of(raw_imap.command(b"SEARCH " + search)[-1]) == b"BAD"
    assert raw_imap.ok(b"NOOP") == []
    assert not [r for r in caplog.records if r.exc_info], caplog.text


@pytest.mark.parametrize("command", [
    b'LOGIN "al\x00ice" pw', b'LOGIN "al\rice" pw', b'LOGIN alice "p\x00w"',
    b'ID ("name" "a\rb")', b"LOGIN {5+}\r\na\x00ice pw",
])
def test_nul_and_bare_cr_in_strings_get_bad(shared_raw: RawImap, command: bytes) -> None:
    assert status_of(shared_raw.command(command)[-1]) == b"BAD"
    assert shared_raw.ok(b"NOOP") == []


@pytest.mark.parametrize("name", [
    b"&Jjo", b"&AGE-", b"&ZeVnLIqe", b"&", b"&AOQ", b"&AOQ-&AOQ-", b'"&U,BTFw-&ZeVnLIqe-"',
    b'"&-&AGEAYgBj-"', b"&2D0-", b"&3gA-",
])
def test_invalid_modified_utf7_names_get_bad(module_users: MailhostTestServer,
                                             shared_raw: RawImap, name: bytes) -> None:
    shared_raw.login()
    for verb in (b"CREATE", b"SELECT", b"STATUS", b"DELETE"):
        args = b" (MESSAGES)" if verb == b"STATUS" else b""
        assert status_of(shared_raw.command(verb + b" " + name + args)[-1]) == b"BAD", verb
    assert mailbox_names(module_users, ALICE) == ["INBOX"]


# -- message bombs -------------------------------------------------------------------


def test_message_bombs_store_and_fetch(users: MailhostTestServer) -> None:
    bombs = [many_parts(10_000), nested_multipart(200), many_header_lines(50_000),
             huge_subject()]
    raw = RawImap(users.port("imap", "starttls"), timeout=120)  # generous: never a timing
    raw.login()
    for bomb in bombs:
        raw.send(b"a APPEND INBOX {%d+}\r\n" % len(bomb) + bomb + b"\r\n")
        assert raw.response(b"a")[-1].startswith(b"a OK [APPENDUID ")
    raw.ok(b"EXAMINE INBOX")
    responses = [line for line in raw.ok(b"FETCH 1:* (BODYSTRUCTURE ENVELOPE RFC822.SIZE)")
                 if b" FETCH " in line]
    assert len(responses) == len(bombs)
    for bomb, response in zip(bombs, responses, strict=True):
        items = fetch_items(response)
        assert items[b"RFC822.SIZE"] == b"%d" % len(bomb)
        validate_body(items[b"BODYSTRUCTURE"], extensible=True)
        validate_envelope(items[b"ENVELOPE"])
    assert fetch_items(responses[2])[b"ENVELOPE"].startswith(b'(NIL "found" ')
    last = fetch_items(raw.ok(b"FETCH 1 BODY.PEEK[10000]")[0])
    assert last == {b"BODY[10000]": b"part 9999"}
    raw.close()


# -- the account boundary --------------------------------------------------------------


def test_names_that_look_like_paths_never_leave_the_account(users: MailhostTestServer,
                                                            tmp_path: Path) -> None:
    marker = b"BOBS-PRIVATE-MARKER"
    users.append(BOB, b"Subject: for bob only\r\n\r\n" + marker + b"\r\n", mailbox="Secret")
    users.append(BOB, b"Subject: inbox\r\n\r\n" + marker + b"\r\n")
    data_dir = Path(users.config.storage.data_dir)
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    raw.ok(b"SELECT INBOX")
    files_before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    names = [b"Secret", b"../Secret", b'"../bob@example.test/Secret"', b"~bob/Secret",
             b'"~bob@example.test/INBOX"', b'"/bob@example.test/INBOX"', b"#shared/bob/Secret",
             b'"Other Users/bob/Secret"', b'"bob@example.test/INBOX"', b"../../mail/2.sqlite",
             b"{7+}\r\nSecret\x00", b'"Secret/.."', b"./Secret", b"%", b"*", b"Secret*"]
    said: list[bytes] = []
    for name in names:
        for command in (b"SELECT " + name, b"EXAMINE " + name, b"STATUS " + name + b" (MESSAGES)",
                        b"APPEND " + name + b" {8+}\r\nX: y\r\n\r\n", b"DELETE " + name,
                        b"RENAME " + name + b" mine", b"SUBSCRIBE " + name,
                        b"GETQUOTAROOT " + name):
            said.extend(raw.command(command))
            raw.ok(b"SELECT INBOX")  # back in INBOX whatever that did
        said.extend(raw.command(b"COPY 1:* " + name))
        said.extend(raw.command(b"LIST " + name + b" *"))
        said.extend(raw.command(b"LIST \"\" " + name))
    said.extend(raw.command(b"SEARCH TEXT " + marker))
    assert marker not in b"".join(said)
    assert not [line for line in said if line.startswith(b"* STATUS")]  # no name resolved
    assert mailbox_names(users, BOB) == ["INBOX", "Secret"]
    assert users.mailbox_uids(BOB, "Secret") == [1] and users.mailbox_uids(BOB) == [1]
    assert mailbox_names(users, ALICE) == ["INBOX"]
    files_after = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    assert files_after == files_before
    raw.close()


# -- framing ---------------------------------------------------------------------------


def test_starttls_injection_is_never_answered(users: MailhostTestServer,
                                              raw_imap: RawImap) -> None:
    raw_imap.send(b"a STARTTLS\r\nb LOGIN alice@example.test \"correct horse battery staple\""
                  b"\r\n")
    assert raw_imap.line() == b"a OK Begin TLS negotiation now\r\n"
    raw_imap.starttls(users.client_ssl_context())
    lines = raw_imap.command(b"SELECT INBOX")
    assert [status_of(line) for line in lines] == [b"BAD"]  # the LOGIN never ran
    raw_imap.login()
    assert raw_imap.ok(b"NOOP") == []


def test_over_long_line_tail_is_never_run(users: MailhostTestServer,
                                          raw_imap: RawImap) -> None:
    tail = b" b LOGIN alice@example.test \"correct horse battery staple\"\r\n"
    raw_imap.send(b"a NOOP " + b"x" * 100_000 + tail)
    assert raw_imap.line().startswith(b"* BAD line too long")
    assert status_of(raw_imap.command(b"SELECT INBOX")[-1]) == b"BAD"  # not logged in
    raw_imap.login()
    raw_imap.send(b"a NOOP " + b"x" * 100_000 + b" b CREATE tail\r\nc NOOP\r\n")
    assert raw_imap.line().startswith(b"* BAD line too long")
    assert raw_imap.line() == b"c OK NOOP completed\r\n"
    assert mailbox_names(users, ALICE) == ["INBOX"]

