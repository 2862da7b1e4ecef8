"""IMAP with imapclient, a widely used high-level client: it parses what the server says
(ENVELOPE, BODYSTRUCTURE, response codes) with its own code, and uses the extensions the
server advertises (UIDPLUS, MOVE, IDLE, ID, NAMESPACE, ENABLE, UNSELECT, SPECIAL-USE)."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from importlib.metadata import version

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.imapclient import SENT

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, RawImap, mail


def connect(server: MailhostTestServer) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.port("imap", "implicit"), ssl=True,
                        ssl_context=server.client_ssl_context(), timeout=30)
    client.login(ALICE, ALICE_PASSWORD)
    return client


@pytest.fixture
def client(users: MailhostTestServer) -> Iterator[IMAPClient]:
    imap = connect(users)
    yield imap
    with contextlib.suppress(IMAPClientError, OSError):
        imap.logout()


def test_session_metadata(client: IMAPClient) -> None:
    caps = set(client.capabilities())
    assert {b"IMAP4REV1", b"UIDPLUS", b"MOVE", b"IDLE", b"ID", b"NAMESPACE"} <= caps
    namespace = client.namespace()
    assert namespace.personal == (("", "/"),)
    assert namespace.other is None and namespace.shared is None
    server_id = client.id_({"name": "imapclient-test"})
    assert server_id == ((b"name", b"mailhost", b"version", version("mailhost").encode()),)
    assert client.enable("CONDSTORE", "X-UNKNOWN") == [b"CONDSTORE"]
    client.select_folder("INBOX")
    with pytest.raises(IMAPClientError):
        client.enable("QRESYNC")  # RFC 5161: only before a mailbox is selected


def test_folders_round_trip_non_ascii_names(client: IMAPClient) -> None:
    names = ["Entwürfe", "Entwürfe/日本語", "Ünïcödé €"]
    client.create_folder(names[1])  # creates its parent too
    client.create_folder(names[2])
    listed = {name: flags for flags, _, name in client.list_folders()}
    assert set(listed) == {"INBOX", *names}
    assert b"\\HasChildren" in listed["Entwürfe"]
    assert b"\\HasNoChildren" in listed["Entwürfe/日本語"]
    assert client.folder_exists("Ünïcödé €")
    client.rename_folder("Ünïcödé €", "Ärger/Größe")
    assert [name for _, _, name in client.list_folders("", "Ärger")] == ["Ärger"]
    assert [name for _, _, name in client.list_folders("Ärger/", "%")] == ["Ärger/Größe"]
    client.subscribe_folder("Ärger/Größe")
    assert {name for _, _, name in client.list_sub_folders()} == {"INBOX", "Ärger/Größe"}
    client.delete_folder("Ärger/Größe")
    assert not client.folder_exists("Ärger/Größe")


def test_append_select_fetch_parsed(client: IMAPClient) -> None:
    when = datetime.datetime(2024, 3, 1, 12, 30, tzinfo=datetime.UTC)
    message = mail(1, sender='"Zoë Ça" <zoe@example.test>', subject="=?utf-8?q?H=C3=A9llo?=")
    appended = client.append("INBOX", message, flags=[b"\\Seen"], msg_time=when)
    assert appended.startswith(b"[APPENDUID ")
    selected = client.select_folder("INBOX")
    assert selected[b"EXISTS"] == 1 and selected[b"UIDNEXT"] == 2
    assert selected[b"UIDVALIDITY"] == int(appended.split()[1])
    assert b"\\*" in selected[b"PERMANENTFLAGS"]
    data = client.fetch([1], ["ENVELOPE", "BODYSTRUCTURE", "INTERNALDATE", "FLAGS",
                              "RFC822.SIZE"])[1]
    envelope = data[b"ENVELOPE"]
    assert envelope.subject == b"=?utf-8?q?H=C3=A9llo?="
    assert envelope.from_[0].mailbox == b"zoe" and envelope.from_[0].host == b"example.test"
    assert envelope.to[0].mailbox == b"alice"
    assert envelope.message_id == b"<m1@example.test>"
    assert envelope.date == datetime.datetime(1994, 2, 8, 5, 52, 25)  # in UTC
    body = data[b"BODYSTRUCTURE"]
    assert (body[0], body[1]) == (b"text", b"plain") and body[2] == (b"charset", b"utf-8")
    assert data[b"INTERNALDATE"].replace(tzinfo=None) == when.astimezone().replace(tzinfo=None)
    assert data[b"FLAGS"] == (b"\\Seen", b"\\Recent")
    assert data[b"RFC822.SIZE"] == len(message)


def test_flags_copy_move_and_uid_expunge(users: MailhostTestServer,
                                         client: IMAPClient) -> None:
    for n in range(1, 6):
        users.append(ALICE, mail(n))
    client.create_folder("Archive")
    client.select_folder("INBOX")
    assert client.add_flags([1, 2], [b"\\Flagged", b"$Todo"]) == {
        1: (b"\\Flagged", b"$Todo", b"\\Recent"), 2: (b"\\Flagged", b"$Todo", b"\\Recent")}
    client.remove_flags([2], [b"$Todo"])
    client.set_flags([3], [b"\\Answered"])
    assert client.get_flags([1, 2, 3]) == {
        1: (b"\\Flagged", b"$Todo", b"\\Recent"), 2: (b"\\Flagged", b"\\Recent"),
        3: (b"\\Answered", b"\\Recent")}
    client.copy([1, 3], "Archive")
    client.move([2], "Archive")  # MOVE: gone from INBOX at once
    assert client.search() == [1, 3, 4, 5]
    assert users.mailbox_uids(ALICE, "Archive") == [1, 2, 3]
    client.add_flags([4, 5], [b"\\Deleted"])
    client.uid_expunge([5])  # UID EXPUNGE removes only what it names
    assert client.search() == [1, 3, 4]
    assert client.search(["DELETED"]) == [4]
    client.unselect_folder()  # UNSELECT: no expunge of 4
    assert users.mailbox_uids(ALICE) == [1, 3, 4]
    client.select_folder("Archive")
    assert client.get_flags([3]) == {3: (b"\\Flagged", b"\\Recent")}  # MOVE kept the flags


def test_special_use_folders(users: MailhostTestServer, client: IMAPClient) -> None:
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    raw.ok(b'CREATE "Sent Items" (USE (\\Sent))')
    assert raw.command(b"CREATE Odd (USE (\\Nonsense))")[-1].split()[1:3] == [b"NO",
                                                                             b"[USEATTR]"]
    assert raw.ok(b'LIST (SPECIAL-USE) "" *') == [
        b'* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"\r\n']
    raw.close()
    assert client.find_special_folder(SENT) == "Sent Items"


def test_idle_hears_other_sessions(users: MailhostTestServer, client: IMAPClient) -> None:
    users.append(ALICE, mail(1))
    client.select_folder("INBOX")
    client.idle()
    users.append(ALICE, mail(2))
    pushed = client.idle_check(timeout=10)
    assert (2, b"EXISTS") in pushed
    other = connect(users)
    other.select_folder("INBOX")
    other.add_flags([1], [b"\\Answered"])
    other.delete_messages([2])
    other.expunge()
    seen: list[tuple[object, ...]] = []
    for _ in range(5):  # bounded: the pushes may come in one or several reads
        seen.extend(client.idle_check(timeout=5))
        if (2, b"EXPUNGE") in seen:
            break
    assert (1, b"FETCH", (b"FLAGS", (b"\\Answered", b"\\Recent"))) in seen
    assert (2, b"EXPUNGE") in seen
    client.idle_done()
    assert client.search() == [1]
    other.logout()
