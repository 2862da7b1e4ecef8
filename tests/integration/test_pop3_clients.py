"""POP3 against Debian's real clients: fetchmail, getmail6 and curl (installed by .ci/run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailhost.testing import clients
from mailhost.testing.clients import need, run
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD

pytestmark = pytest.mark.clients


def message(n: int) -> bytes:
    return f"From: sender@example.test\r\nTo: {ALICE}\r\nSubject: message {n}\r\n" \
           f"Message-ID: <m{n}@example.test>\r\n\r\nbody {n}\r\n.dot line\r\n".encode()


def fetchmail(server: MailhostTestServer, workdir: Path, keep: bool) -> tuple[int, list[Path]]:
    return clients.fetchmail(server, workdir, ALICE, ALICE_PASSWORD, keep)


def test_fetchmail_keep_uses_uidl_and_nokeep_deletes(users: MailhostTestServer,
                                                     tmp_path: Path) -> None:
    for n in range(3):
        users.append(ALICE, message(n))
    code, files = fetchmail(users, tmp_path, keep=True)
    assert code == 0 and len(files) == 3
    assert b".dot line" in files[0].read_bytes()
    assert users.mailbox_uids(ALICE) == [1, 2, 3]  # keep: still on the server
    code, files = fetchmail(users, tmp_path, keep=True)
    assert code == 1 and len(files) == 3  # UIDL tracking: nothing new the second time
    users.append(ALICE, message(3))
    code, files = fetchmail(users, tmp_path, keep=True)
    assert code == 0 and len(files) == 4
    fresh = tmp_path / "fresh"  # a client with no UIDL history, deleting what it takes
    fresh.mkdir()
    code, files = fetchmail(users, fresh, keep=False)
    assert code == 0 and len(files) == 4
    assert users.mailbox_uids(ALICE) == []  # nokeep: gone after QUIT


def getmail(server: MailhostTestServer, workdir: Path) -> list[Path]:
    need("getmail")
    outdir = workdir / "delivered"
    outdir.mkdir(exist_ok=True)
    rc = workdir / "getmailrc"
    rc.write_text(
        "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\n"
        f"port = {server.port('pop3', 'implicit')}\nusername = {ALICE}\n"
        f"password = {ALICE_PASSWORD}\nca_certs = {server.ca.ca_file}\n"
        # An external MDA, since getmail's Maildir writer refuses to run as root (CI is root).
        "[destination]\ntype = MDA_external\npath = /bin/sh\nallow_root_commands = true\n"
        f'arguments = ("-c", "cat > {outdir}/$(date +%s%N)")\n'
        "[options]\ndelete = false\nread_all = false\nverbose = 0\n"
    )
    result = run(["getmail", f"--rcfile={rc}", f"--getmaildir={workdir}"], workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(outdir.iterdir())


def test_getmail_fetches_only_new_mail(users: MailhostTestServer, tmp_path: Path) -> None:
    users.append(ALICE, message(1))
    users.append(ALICE, message(2))
    assert len(getmail(users, tmp_path)) == 2
    assert len(getmail(users, tmp_path)) == 2  # read_all = false: nothing fetched again
    users.append(ALICE, message(3))
    files = getmail(users, tmp_path)
    assert len(files) == 3
    assert users.mailbox_uids(ALICE) == [1, 2, 3]  # delete = false


def test_curl_pop3s_list_and_retrieve(users: MailhostTestServer, tmp_path: Path) -> None:
    need("curl")
    users.append(ALICE, message(1))
    users.append(ALICE, message(2))
    base = f"pop3s://127.0.0.1:{users.port('pop3', 'implicit')}/"
    common = ["curl", "--silent", "--show-error", "--cacert", str(users.ca.ca_file),
              "--user", f"{ALICE}:{ALICE_PASSWORD}", "--max-time", "30"]
    listing = run([*common, base], tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[0] for line in listing.stdout.splitlines()] == ["1", "2"]
    retrieved = run([*common, base + "2"], tmp_path)
    assert retrieved.returncode == 0, retrieved.stderr
    assert "Subject: message 2" in retrieved.stdout
    assert ".dot line" in retrieved.stdout and "..dot line" not in retrieved.stdout
