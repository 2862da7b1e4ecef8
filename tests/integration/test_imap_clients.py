"""IMAP against Debian's real clients: curl and mutt (installed by .ci/run).

curl speaks imaps:// with the test CA; mutt runs its full-screen interface on a
pseudo-terminal, driven by pushed key functions, and the server is checked afterwards.
"""

from __future__ import annotations

import os
import pty
import select
import time
from pathlib import Path

import pytest

from mailhost.testing.clients import need, run
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, mail

pytestmark = pytest.mark.clients


def curl(server: MailhostTestServer, workdir: Path, url: str, *extra: str) -> str:
    need("curl")
    base = f"imaps://127.0.0.1:{server.port('imap', 'implicit')}/"
    result = run(["curl", "--silent", "--show-error", "--cacert", str(server.ca.ca_file),
                  "--user", f"{ALICE}:{ALICE_PASSWORD}", "--max-time", "30", *extra,
                  base + url], workdir)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_curl_lists_folders_and_fetches_a_message(users: MailhostTestServer,
                                                  tmp_path: Path) -> None:
    users.append(ALICE, mail(1, subject="first"))
    users.append(ALICE, mail(2, subject="second", body="the body of two"), mailbox="Archive")
    listing = curl(users, tmp_path, "")
    assert sorted(listing.splitlines()) == ['* LIST (\\HasNoChildren) "/" Archive',
                                            '* LIST (\\HasNoChildren) "/" INBOX']
    fetched = curl(users, tmp_path, "Archive;UID=1")
    assert fetched.replace("\r\n", "\n") == mail(2, subject="second",
                                                 body="the body of two").decode().replace(
                                                     "\r\n", "\n")
    section = curl(users, tmp_path, "INBOX;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)")
    assert section.strip() == "Subject: first"
    assert curl(users, tmp_path, "Archive?SUBJECT%20second").strip() == "* SEARCH 1"
    # The plain port with STARTTLS required works too.
    starttls = run(["curl", "--silent", "--show-error", "--ssl-reqd", "--cacert",
                    str(users.ca.ca_file), "--user", f"{ALICE}:{ALICE_PASSWORD}",
                    "--max-time", "30",
                    f"imap://127.0.0.1:{users.port('imap', 'starttls')}/INBOX;UID=1"], tmp_path)
    assert starttls.returncode == 0, starttls.stderr
    assert "Subject: first" in starttls.stdout
    assert users.message_flags(ALICE) == {1: ("\\Seen",)}  # curl fetched BODY[]: now seen


def run_on_terminal(args: list[str], env: dict[str, str], timeout: float = 60) -> bytes:
    """Run a full-screen program on a pseudo-terminal; what it drew, once it exits."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the program
        os.execvpe(args[0], args, env)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the terminal closes when the program exits
                    break
                if not chunk:
                    break
                output += chunk
            elif os.waitpid(pid, os.WNOHANG)[0]:
                break
        else:
            os.kill(pid, 9)
            raise AssertionError(f"{args[0]} did not finish: {bytes(output[-2000:])!r}")
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return bytes(output)


def test_mutt_reads_deletes_and_syncs(users: MailhostTestServer, tmp_path: Path) -> None:
    need("mutt")
    users.append(ALICE, mail(1, subject="read me", body="READ-ME-MARKER in the body"))
    users.append(ALICE, mail(2, subject="delete me"))
    users.append(ALICE, mail(3, subject="keep me"))
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(
        f'set folder="imaps://{ALICE.replace("@", "%40")}@127.0.0.1:'
        f'{users.port("imap", "implicit")}/"\n'
        'set spoolfile="+INBOX"\n'
        f'set imap_pass="{ALICE_PASSWORD}"\n'
        f'set ssl_ca_certificates_file="{users.ca.ca_file}"\n'
        f'set certificate_file="{tmp_path}/certificates"\n'
        'set header_cache="" message_cachedir=""\n'
        "set sort=mailbox-order delete=yes quit=yes move=no mark_old=no\n"
        "set imap_check_subscribed=no timeout=5 wait_key=no\n"
    )
    copy = tmp_path / "read.eml"
    keys = (f"<display-message><exit><pipe-message>cat > {copy}<enter>"
            "<next-undeleted><delete-message><sync-mailbox><quit>")
    screen = run_on_terminal(
        ["mutt", "-n", "-F", str(muttrc), "-e", f"push '{keys}'"],
        {"HOME": str(tmp_path), "TERM": "vt100", "PATH": os.environ["PATH"],
         "LANG": "C.UTF-8"})
    assert b"SSL/TLS connection using TLS1." in screen  # certificate checked, no prompt
    assert users.message_flags(ALICE) == {1: ("\\Seen",), 3: ()}  # 2 deleted and expunged
    assert b"READ-ME-MARKER" in copy.read_bytes()  # what mutt read of message 1
