"""Protocol rules over a real server: which command is valid in which state (RFC 3501 §3,
§6), MOVE's responses (RFC 6851), and a fuzz of whole sessions through the socket."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, RawImap, mail

ANY_STATE = [b"CAPABILITY", b"NOOP", b'ID ("name" "test")']
NOT_AUTHENTICATED_ONLY = [b"LOGIN alice pw", b"AUTHENTICATE PLAIN", b"STARTTLS"]
AUTHENTICATED = [
    b"SELECT INBOX", b"EXAMINE INBOX", b"CREATE x", b"DELETE x", b"RENAME x y",
    b"SUBSCRIBE x", b"UNSUBSCRIBE x", b'LIST "" *', b'LSUB "" *', b"STATUS INBOX (MESSAGES)",
    b"APPEND INBOX {1+}\r\nx", b"NAMESPACE", b"IDLE", b"GETQUOTAROOT INBOX",
]
SELECTED_ONLY = [
    b"CHECK", b"CLOSE", b"UNSELECT", b"EXPUNGE", b"SEARCH ALL", b"FETCH 1 FLAGS",
    b"STORE 1 +FLAGS (\\Seen)", b"COPY 1 x", b"MOVE 1 x", b"UID FETCH 1 FLAGS",
    b"UID SEARCH ALL", b"UID STORE 1 +FLAGS (\\Seen)", b"UID COPY 1 x", b"UID MOVE 1 x",
    b"UID EXPUNGE 1",
]


def status(lines: list[bytes]) -> bytes:
    return lines[-1].split(b" ")[1]


def test_each_command_only_in_its_states(users: MailhostTestServer) -> None:
    users.append(ALICE, mail(1))
    raw = RawImap(users.port("imap", "starttls"))
    wrong = {
        "not authenticated": [*AUTHENTICATED, *SELECTED_ONLY],
        "authenticated": [*NOT_AUTHENTICATED_ONLY, *SELECTED_ONLY],
        "selected": [*NOT_AUTHENTICATED_ONLY, b"ENABLE CONDSTORE"],
    }
    for state, commands in wrong.items():
        if state == "authenticated":
            raw.login()
        if state == "selected":
            raw.ok(b"SELECT INBOX")
        for command in commands:
            assert status(raw.command(command)) == b"BAD", (state, command)
        for command in ANY_STATE:
            assert status(raw.command(command)) == b"OK", (state, command)
    raw.ok(b"FETCH 1 FLAGS")  # still selected: none of the refused commands did anything
    assert users.mailbox_uids(ALICE) == [1]
    raw.close()


def test_move_reports_copyuid_before_expunges(users: MailhostTestServer) -> None:
    for n in range(1, 4):
        users.append(ALICE, mail(n), flags=["\\Flagged"] if n == 1 else [])
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    raw.ok(b"CREATE Archive")
    validity = re.search(rb"UIDVALIDITY ([0-9]+)", b"".join(raw.ok(b"STATUS Archive "
                                                                   b"(UIDVALIDITY)")))
    assert validity
    raw.ok(b"SELECT INBOX")
    assert raw.ok(b"MOVE 1:2 Archive") == [
        b"* OK [COPYUID %s 1:2 1:2] moved\r\n" % validity.group(1),
        b"* 1 EXPUNGE\r\n", b"* 1 EXPUNGE\r\n"]
    assert raw.ok(b"UID MOVE 3 Archive") == [
        b"* OK [COPYUID %s 3 3] moved\r\n" % validity.group(1), b"* 1 EXPUNGE\r\n"]
    assert raw.ok(b"UID MOVE 3 Archive") == []  # gone already: nothing to move
    assert users.message_flags(ALICE, "Archive") == {1: ("\\Flagged",), 2: (), 3: ()}
    raw.ok(b"EXAMINE Archive")
    assert raw.command(b"MOVE 1 INBOX")[-1].split(b" ", 2)[1:] == [b"NO",
                                                                   b"[READ-ONLY] mailbox is "
                                                                   b"read-only\r\n"]
    raw.close()


# -- fuzzing whole sessions ------------------------------------------------------------

VERBS = [b"CAPABILITY", b"NOOP", b"ID", b"SELECT", b"EXAMINE", b"CREATE", b"DELETE",
         b"RENAME", b"SUBSCRIBE", b"UNSUBSCRIBE", b"LIST", b"LSUB", b"STATUS", b"APPEND",
         b"NAMESPACE", b"ENABLE", b"CHECK", b"CLOSE", b"UNSELECT", b"EXPUNGE", b"SEARCH",
         b"FETCH", b"STORE", b"COPY", b"MOVE", b"UID FETCH", b"UID SEARCH", b"UID STORE",
         b"UID COPY", b"UID MOVE", b"UID EXPUNGE", b"GETQUOTA", b"GETQUOTAROOT", b"SETQUOTA",
         b"XYZZY"]
TOKENS = [b"INBOX", b"Archive", b'"a b"', b"&AOQ-", b"&Jjo", b"a/b/c", b'""', b"%", b"*",
          b"1", b"1:*", b"2,4:5", b"$", b"0", b"4294967296", b"(FLAGS)", b"FLAGS", b"+FLAGS",
          b"-FLAGS.SILENT", b"(\\Seen $kw)", b"()", b"BODY[1.2.MIME]<0.5>", b"BODYSTRUCTURE",
          b"BODY.PEEK[HEADER.FIELDS (SUBJECT)]", b"ENVELOPE", b"RFC822", b"FULL", b"ALL",
          b"OR", b"NOT", b"(", b")", b"UID", b"SINCE 1-Jan-2024", b"CHARSET UTF-8",
          b"RETURN (MIN MAX COUNT SAVE)", b"(MESSAGES UIDNEXT RECENT)", b"NIL", b"{3+}\r\nabc",
          b"{0+}\r\n", b'"\\"', b"~", b"..", b"(CONDSTORE)", b"(CHANGEDSINCE 1)",
          b"(UNCHANGEDSINCE 5)", b"(QRESYNC (1 1))", b"(USE (\\Sent))", b"TEXT body",
          b"RETURN (SPECIAL-USE CHILDREN STATUS (MESSAGES))", b"(STORAGE 10)", b'"ab\\"c"',
          b"(SUBSCRIBED RECURSIVEMATCH)", b"1:2 (BODY[TEXT]<1.2> FLAGS)"]
junk = st.binary(max_size=8).filter(lambda b: not (set(b) & set(b"\r\n{")))
commands = st.builds(
    lambda verb, args: b" ".join([verb, *args]),
    st.sampled_from(VERBS),
    st.lists(st.sampled_from(TOKENS) | junk, max_size=6),
)


@pytest.fixture
def fuzz_session(users: MailhostTestServer) -> Iterator[list[RawImap]]:
    for n in range(1, 4):
        users.append(ALICE, mail(n))
    holder: list[RawImap] = []
    yield holder
    for raw in holder:
        raw.close()


def connected(server: MailhostTestServer, holder: list[RawImap]) -> RawImap:
    """The fuzz connection, logged in and with INBOX selected; a new one if it was closed."""
    if not holder:
        raw = RawImap(server.port("imap", "starttls"))
        raw.login()
        raw.ok(b"SELECT INBOX")
        holder.append(raw)
    return holder[0]


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(commands, min_size=1, max_size=4))
def test_fuzzed_sessions_never_break_the_server(
    users: MailhostTestServer, fuzz_session: list[RawImap], script: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    for command in script:
        raw = connected(users, fuzz_session)
        lines = raw.command(command)
        assert lines, command  # every command is answered (the server never hangs)
        last = lines[-1]
        if last.startswith(b"* BYE"):  # a deliberate close (e.g. LOGOUT-like limits)
            raw.close()
            fuzz_session.clear()
            continue
        assert last.split(b" ")[1] in (b"OK", b"NO", b"BAD"), (command, lines)
        assert b"[SERVERBUG]" not in last, (command, lines)
    raw = connected(users, fuzz_session)
    assert raw.command(b"NOOP")[-1].split(b" ")[1] == b"OK"  # still in step
    assert not [r for r in caplog.records if r.exc_info], caplog.text
