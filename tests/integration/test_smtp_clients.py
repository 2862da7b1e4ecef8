"""Mail in from Debian's real tools: swaks (SMTP, submission, LMTP) and Postfix relaying to
mailhost over LMTP. Installed by .ci/run; Postfix's master must be started as root."""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailhost.testing.clients import need
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, BOB, wait_until

pytestmark = pytest.mark.clients


def swaks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need("swaks"), "--server", "127.0.0.1", "--timeout", "20", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_swaks_smtp_with_starttls_and_pipelining(users: MailhostTestServer) -> None:
    result = swaks("--port", str(users.port("smtp")), "--to", ALICE, "--from", "s@remote.test",
                   "--tls", "--tls-verify", "--tls-ca-path", str(users.ca.ca_file),
                   "--pipeline", "--ehlo", "swaks.remote.test", "--header", "Subject: swaks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<~  250 2.0.0 OK, delivered" in result.stdout
    [stored] = users.raw_messages(ALICE)
    assert b"Received: from swaks.remote.test ([127.0.0.1])" in stored
    assert b" with ESMTPS id " in stored and b"Subject: swaks" in stored


def test_swaks_submission_auth_on_implicit_tls(users: MailhostTestServer) -> None:
    result = swaks("--port", str(users.port("submission", "implicit")), "--tls-on-connect",
                   "--to", BOB, "--from", ALICE, "--header", f"From: {ALICE}",
                   "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", ALICE_PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert b" with ESMTPSA id " in users.raw_messages(BOB)[0]
    refused = swaks("--port", str(users.port("submission", "implicit")), "--tls-on-connect",
                    "--to", BOB, "--from", ALICE, "--header", f"From: {BOB}",
                    "--auth", "LOGIN", "--auth-user", ALICE, "--auth-password", ALICE_PASSWORD)
    assert refused.returncode != 0 and "550 5.7.1 From: address" in refused.stdout
    assert len(users.raw_messages(BOB)) == 1


def test_swaks_lmtp(users: MailhostTestServer) -> None:
    result = swaks("--port", str(users.port("lmtp")), "--protocol", "LMTP",
                   "--to", f"{ALICE},{BOB}", "--from", "s@remote.test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("<-  250 2.0.0 OK, delivered") == 2  # one per recipient
    assert len(users.raw_messages(ALICE)) == len(users.raw_messages(BOB)) == 1


# -- Postfix in front, handing mail to mailhost over LMTP -----------------------------------

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = mx.example.test
mydomain = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = example.test
virtual_mailbox_maps = static:ok
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
default_transport = error:outbound mail is disabled in this test
relay_transport = error:outbound mail is disabled in this test
local_recipient_maps =
alias_maps =
alias_database =
disable_dns_lookups = yes
smtp_host_lookup = native
lmtp_host_lookup = native
smtputf8_enable = no
biff = no
"""

MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -   - proxymap
showq     unix  n - n -   - showq
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
lmtp      unix  - - n -   - lmtp
anvil     unix  - - n -   1 anvil
scache    unix  - - n -   1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


@dataclass
class Postfix:
    root: Path
    smtp_port: int

    @property
    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def lmtp_outcomes(self) -> dict[str, str]:
        """Final status per recipient from the lmtp client's log lines (deferrals ignored)."""
        outcomes = {}
        for line in self.log.splitlines():
            if "postfix/lmtp[" in line and " to=<" in line and "status=deferred" not in line:
                outcomes[line.split(" to=<")[1].split(">")[0]] = line.split("status=")[1]
        return outcomes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postfix(users: MailhostTestServer) -> Iterator[Postfix]:
    postfix_bin = need("postfix")
    if os.geteuid() != 0:
        pytest.fail("Postfix's master daemon must be started as root (CI runs as root)")
    # Not under pytest's 0700 tmp_path: Postfix's daemons run as the postfix user.
    root = Path(tempfile.mkdtemp(prefix="mailhost-postfix-"))
    root.chmod(0o755)
    for sub in ("etc", "queue", "data"):
        (root / sub).mkdir()
    shutil.chown(root / "data", user="postfix")
    instance = Postfix(root, free_port())
    (root / "etc" / "main.cf").write_text(
        MAIN_CF.format(root=root, lmtp_port=users.port("lmtp")))
    (root / "etc" / "master.cf").write_text(MASTER_CF.format(smtp_port=instance.smtp_port))
    config = ["-c", str(root / "etc")]
    master = subprocess.Popen([postfix_bin, *config, "start-fg"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: "daemon started" in instance.log, timeout=20), instance.log
        yield instance
    finally:
        subprocess.run([postfix_bin, *config, "stop"], capture_output=True, timeout=30,
                       check=False)
        try:
            master.wait(timeout=20)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def test_postfix_relays_to_mailhost_over_lmtp(users: MailhostTestServer,
                                              postfix: Postfix) -> None:
    raw = (b"From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\n"
           b"Subject: through postfix\r\nMessage-ID: <pf1@remote.test>\r\n\r\n"
           b"Hello via Postfix.\r\n.leading dot\r\n")
    with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=20) as client:
        client.ehlo("client.remote.test")
        refused = client.sendmail("sender@remote.test",
                                  [ALICE, BOB, "nobody@example.test"], raw)
    assert refused == {}  # Postfix accepts for the domain; mailhost decides per recipient
    # Postfix logs the RCPT-time bounce before the DATA-time results: wait for all three.
    assert wait_until(lambda: len(postfix.lmtp_outcomes()) == 3, timeout=30), postfix.log
    assert postfix.lmtp_outcomes() == {  # one LMTP transaction, a reply per recipient
        ALICE: "sent (250 2.0.0 OK, delivered)",
        BOB: "sent (250 2.0.0 OK, delivered)",
        "nobody@example.test": "bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 no such "
                               "user here (in reply to RCPT TO command))",
    }, postfix.log
    stored = users.raw_messages(ALICE)[0]
    lines = stored.split(b"\r\n")
    assert lines[0] == b"Return-Path: <sender@remote.test>"
    assert lines[1] == b"Received: from mx.example.test ([127.0.0.1])"
    assert b" with LMTP id " in stored
    assert b"by mx.example.test (Postfix) with ESMTP" in stored  # Postfix's own hop
    assert stored.endswith(b"\r\n\r\nHello via Postfix.\r\n.leading dot\r\n")
    assert users.raw_messages(BOB)[0].endswith(b"\r\n.leading dot\r\n")
