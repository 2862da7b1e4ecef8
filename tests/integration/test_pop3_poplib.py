"""POP3 with Python's poplib: every command, over STLS and implicit TLS (RFC 1939/2449/2595)."""

from __future__ import annotations

import poplib
from collections.abc import Iterator

import pytest

from mailhost.protocols.pop3 import readahead
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, BOB, RawClient

MESSAGES = [
    b"From: a@example.test\r\nSubject: one\r\n\r\nfirst body\r\n",
    # bare LF line endings and a line starting with a dot
    b"From: b@example.test\nSubject: two\n\n.leading dot\n..two dots\nend\n",
    # no final newline
    b"From: c@example.test\r\nSubject: three\r\n\r\nno newline at the end",
]


def expected_wire(raw: bytes) -> bytes:
    """What RETR must deliver after un-stuffing: CRLF lines, a final CRLF."""
    text = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return text if text.endswith(b"\r\n") else text + b"\r\n"


@pytest.fixture
def mailbox(users: MailhostTestServer) -> MailhostTestServer:
    for raw in MESSAGES:
        users.append(ALICE, raw)
    return users


def connect(server: MailhostTestServer, mode: str) -> poplib.POP3:
    if mode == "implicit":
        return poplib.POP3_SSL("127.0.0.1", server.port("pop3", "implicit"),
                               context=server.client_ssl_context(), timeout=10)
    pop = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)
    pop.stls(server.client_ssl_context())
    return pop


@pytest.fixture(params=["stls", "implicit"])
def pop(request: pytest.FixtureRequest, mailbox: MailhostTestServer) -> Iterator[poplib.POP3]:
    client = connect(mailbox, request.param)
    client.user(ALICE)
    client.pass_(ALICE_PASSWORD)
    yield client
    if client.sock is not None:  # tests that QUIT themselves leave nothing to close
        client.quit()


def test_stat_list_and_retr_sizes_agree(pop: poplib.POP3) -> None:
    count, total = pop.stat()
    assert count == 3
    _resp, listing, _ = pop.list()
    sizes = {int(n): int(s) for n, s in (line.split() for line in listing)}
    assert sum(sizes.values()) == total
    for number, raw in enumerate(MESSAGES, start=1):
        _resp, lines, octets = pop.retr(number)
        assert b"\r\n".join(lines) + b"\r\n" == expected_wire(raw)
        assert octets == sizes[number]
        resp = pop._shortcmd(f"LIST {number}")
        assert resp == f"+OK {number} {sizes[number]}".encode()


def test_uidl_is_stable_and_unique(pop: poplib.POP3, mailbox: MailhostTestServer) -> None:
    _resp, listing, _ = pop.uidl()
    uidls = [line.split()[1] for line in listing]
    assert len(set(uidls)) == 3
    assert all(len(u) == 16 for u in uidls)  # %08X uid + %08X uidvalidity, as Dovecot
    assert pop.uidl(2).split()[-1] == uidls[1]


def test_top(pop: poplib.POP3) -> None:
    _resp, lines, _ = pop.top(2, 1)
    assert lines == [b"From: b@example.test", b"Subject: two", b"", b".leading dot"]
    _resp, lines, _ = pop.top(1, 0)
    assert lines == [b"From: a@example.test", b"Subject: one", b""]
    _resp, lines, _ = pop.top(1, 10**30)  # a huge count is the whole message
    assert lines[-1] == b"first body"


def test_dele_rset_noop_and_quit_expunges(pop: poplib.POP3,
                                          mailbox: MailhostTestServer) -> None:
    assert pop.noop().startswith(b"+OK")
    pop.dele(1)
    with pytest.raises(poplib.error_proto, match="already deleted"):
        pop.dele(1)
    with pytest.raises(poplib.error_proto):
        pop.retr(1)
    assert pop.stat()[0] == 2
    pop.rset()
    assert pop.stat()[0] == 3
    pop.dele(2)
    assert mailbox.mailbox_uids(ALICE) == [1, 2, 3]  # nothing happens before QUIT
    pop.quit()
    assert mailbox.mailbox_uids(ALICE) == [1, 3]


def test_dropped_connection_deletes_nothing(mailbox: MailhostTestServer) -> None:
    client = RawClient(mailbox.port("pop3", "starttls"))
    client.line()
    client.send(f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\nDELE 1\r\nDELE 2\r\n".encode())
    for _ in range(4):
        assert client.line().startswith(b"+OK")
    client.close()  # no QUIT
    second = connect(mailbox, "stls")  # the lock was released, so a new session works
    second.user(ALICE)
    second.pass_(ALICE_PASSWORD)
    assert second.stat()[0] == 3
    second.quit()
    assert mailbox.mailbox_uids(ALICE) == [1, 2, 3]


def test_maildrop_lock_gives_in_use(pop: poplib.POP3, mailbox: MailhostTestServer) -> None:
    second = connect(mailbox, "stls")
    second.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_(ALICE_PASSWORD)
    second.quit()


def test_capa_before_and_after_login(mailbox: MailhostTestServer) -> None:
    plain = poplib.POP3("127.0.0.1", mailbox.port("pop3", "starttls"), timeout=10)
    caps = plain.capa()
    for cap in ("TOP", "UIDL", "USER", "SASL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                "EXPIRE", "LOGIN-DELAY", "UTF8", "STLS", "IMPLEMENTATION"):
        assert cap in caps, cap
    assert caps["SASL"] == ["PLAIN", "LOGIN"]
    assert caps["IMPLEMENTATION"] == ["mailhost"]  # no version before login
    plain.stls(mailbox.client_ssl_context())
    assert "STLS" not in plain.capa()
    plain.user(ALICE)
    plain.pass_(ALICE_PASSWORD)
    after = plain.capa()
    assert "USER" not in after and "STLS" not in after and "UIDL" in after
    plain.quit()


def test_sasl_plain_and_login(mailbox: MailhostTestServer) -> None:
    for mechanism in ("PLAIN", "LOGIN"):
        client = connect(mailbox, "implicit")
        if mechanism == "PLAIN":
            import base64

            blob = base64.b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
            assert client._shortcmd(f"AUTH PLAIN {blob}").startswith(b"+OK")
        else:
            import base64

            assert client._shortcmd("AUTH LOGIN").startswith(b"+ ")
            assert client._shortcmd(base64.b64encode(ALICE.encode()).decode()) \
                .startswith(b"+ ")
            assert client._shortcmd(base64.b64encode(ALICE_PASSWORD.encode()).decode()) \
                .startswith(b"+OK")
        assert client.stat()[0] == 3
        client.quit()


def test_authzid_needs_a_master_user(mailbox: MailhostTestServer) -> None:
    import base64

    client = connect(mailbox, "implicit")
    blob = base64.b64encode(f"{BOB}\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client._shortcmd(f"AUTH PLAIN {blob}")
    client.quit()


def test_pipelined_commands(mailbox: MailhostTestServer) -> None:
    client = RawClient(mailbox.port("pop3", "starttls"))
    client.line()
    client.send(f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\nSTAT\r\nLIST\r\nUIDL\r\n"
                "RETR 1\r\nNOOP\r\nQUIT\r\n".encode())
    assert client.line().startswith(b"+OK")
    assert client.line().startswith(b"+OK")
    assert client.line().startswith(b"+OK 3 ")
    assert len(client.lines_until()) == 5  # +OK, 3 lines, "."
    assert len(client.lines_until()) == 5
    retr = client.lines_until()
    assert retr[-2] == b"first body\r\n"
    assert client.line() == b"+OK\r\n"
    assert client.line().startswith(b"+OK bye")
    client.close()



def test_pipelined_commands_answered_from_memory_keep_their_order(
        mailbox: MailhostTestServer) -> None:
    """Once the session waits for a command, lines are answered from the data callback until
    one needs the session (XYZZY, QUIT); everything from that one on is answered in order."""
    client = RawClient(mailbox.port("pop3", "starttls"))
    client.line()
    client.send(f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\n".encode())
    client.line()
    assert client.line().startswith(b"+OK")
    client.send(b"RETR 2\r\n")  # reads the bodies ahead: the next lines are in memory
    assert client.lines_until()[-2] == b"end\r\n"
    client.send(b"RETR 1\r\nDELE 1\r\nRETR 1\r\nXYZZY\r\nTOP 3 0\r\nLIST\r\nRETR 3\r\n"
                b"QUIT\r\n")
    assert client.lines_until()[-2] == b"first body\r\n"
    assert client.line() == b"+OK message 1 deleted\r\n"
    assert client.line() == b"-ERR message 1 already deleted\r\n"
    assert client.line() == b"-ERR unknown command\r\n"
    top = client.lines_until()
    assert top[0].startswith(b"+OK") and top[-2] == b"\r\n"
    sizes = [len(expected_wire(raw)) for raw in MESSAGES]
    assert client.lines_until() == [b"+OK 2 messages\r\n", b"2 %d\r\n" % sizes[1],
                                    b"3 %d\r\n" % sizes[2], b".\r\n"]
    assert client.lines_until()[-2] == b"no newline at the end\r\n"
    assert client.line() == b"+OK bye (1 messages removed)\r\n"
    client.close()


@pytest.mark.parametrize("command", [
    "RETR 0", "RETR -1", "RETR 99999999999999999999", "RETR x", "RETR", "TOP 1 -5",
    "TOP 1", "LIST 4", "DELE 0", "UIDL 99", "XYZZY", "TOP 1 99999999999999999999999999",
])
def test_hostile_transaction_commands_get_clean_errors(mailbox: MailhostTestServer,
                                                       command: str) -> None:
    client = RawClient(mailbox.port("pop3", "starttls"))
    client.line()
    client.send(f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\n{command}\r\nQUIT\r\n".encode())
    client.line()
    client.line()
    reply = client.line()
    if command.startswith("TOP 1 9"):
        assert reply.startswith(b"+OK")
        client.lines_until()
    else:
        assert reply.startswith(b"-ERR"), (command, reply)
    assert client.line().startswith(b"+OK bye (0 messages removed)")
    client.close()
    assert mailbox.mailbox_uids(ALICE) == [1, 2, 3]


def test_commands_before_auth_are_refused(mailbox: MailhostTestServer) -> None:
    client = RawClient(mailbox.port("pop3", "starttls"))
    client.line()
    for command in (b"STAT", b"RETR 1", b"DELE 1", b"LIST", b"PASS x"):
        client.send(command + b"\r\n")
        assert client.line().startswith(b"-ERR")
    client.close()


def test_repeated_bad_commands_disconnect(mailbox: MailhostTestServer) -> None:
    client = RawClient(mailbox.port("pop3", "starttls"))
    client.line()
    client.send(b"BOGUS\r\n" * 10)
    replies = [client.line() for _ in range(10)]
    assert all(r.startswith(b"-ERR") for r in replies)
    assert b"too many bad commands" in replies[-1]
    assert client.is_closed()
    client.close()


def test_retr_across_read_ahead_windows_returns_exact_bytes(
        users: MailhostTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies read ahead in windows cut by count and by bytes, a message bigger than a
    window, DELE in between, TOP before RETR, RSET, and a second pass: every byte right."""
    monkeypatch.setattr(readahead, "MAX_WINDOW", 5)
    monkeypatch.setattr(readahead, "MAX_WINDOW_BYTES", 6000)
    sizes = [100, 2500, 40, 7000, 3000, 3000, 1, 20_000, 500, 900] * 3 + [300_000, 10]
    raws = [b"Subject: m%d\r\n\r\n" % i + b"".join(
        b".line %d of %d\r\n" % (n, i) if n % 3 == 0 else b"x" * (n % 70) + b"\r\n"
        for n in range(size // 20 + 1)) for i, size in enumerate(sizes)]
    for raw in raws:
        users.append(ALICE, raw)
    pop = connect(users, "implicit")
    pop.user(ALICE)
    pop.pass_(ALICE_PASSWORD)
    assert pop.stat()[0] == len(raws)
    pop.dele(3)
    pop.dele(12)
    _resp, lines, _ = pop.top(5, 0)
    assert b"\r\n".join(lines) + b"\r\n" == raws[4][:raws[4].index(b"\r\n\r\n") + 4]
    for number, raw in enumerate(raws, start=1):
        if number in (3, 12):
            with pytest.raises(poplib.error_proto, match="already deleted"):
                pop.retr(number)
            continue
        _resp, lines, octets = pop.retr(number)
        assert b"\r\n".join(lines) + b"\r\n" == raw, number
        assert octets == len(raw)
    pop.rset()
    for number in (12, 3, 32, 1, 31):  # backwards and again: read from the store anew
        _resp, lines, _ = pop.retr(number)
        assert b"\r\n".join(lines) + b"\r\n" == raws[number - 1], number
    pop.quit()
