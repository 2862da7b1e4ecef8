"""The plugin author's kit itself: the one-line clients and the socket transcript."""

from __future__ import annotations

import pytest

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD


def test_logged_in_clients(users: MailhostTestServer) -> None:
    users.deliver(ALICE, b"Subject: kit\r\n\r\nhello\r\n")
    pop = users.pop3(ALICE, ALICE_PASSWORD)
    assert pop.stat()[0] == 1
    pop.quit()
    imap = users.imap(ALICE, ALICE_PASSWORD)
    assert imap.select("INBOX")[1] == [b"1"]
    imap.logout()


def test_transcripts_over_a_real_socket(users: MailhostTestServer) -> None:
    users.transcript("pop3", rf"""
        S: \+OK .* POP3 ready
        C: USER {ALICE}
        S: \+OK .*
        C: PASS {ALICE_PASSWORD}
        S: \+OK 0 messages .*
        C: QUIT
        S: \+OK bye.*
    """)
    users.transcript("imap", rf"""
        S: \* OK \[CAPABILITY .*\] .*
        C: a LOGIN {ALICE} "{ALICE_PASSWORD}"
        S: a OK .*
        C: b SELECT INBOX
        S: \* FLAGS .*
        S: \* OK \[PERMANENTFLAGS .*
        S: \* 0 EXISTS
        S: \* 0 RECENT
        S: \* OK \[UIDVALIDITY \d+\].*
        S: \* OK \[UIDNEXT 1\].*
        S: \* OK \[HIGHESTMODSEQ \d+\].*
        S: b OK \[READ-WRITE\] SELECT completed
        C: c LOGOUT
        S: \* BYE .*
        S: c OK .*
    """)
    with pytest.raises(AssertionError, match="step 2"):
        users.transcript("pop3", r"""
            S: \+OK .*
            S: this line never comes
        """, timeout=2)
