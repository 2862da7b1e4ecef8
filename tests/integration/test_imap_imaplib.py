"""IMAP4rev1 with Python's imaplib against a real server: each RFC 3501 command in its state,
with what it returns and what it changed on the server checked."""

from __future__ import annotations

import datetime
import imaplib
import re
import ssl

import pytest
from imapclient import imap_utf7

from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, imap_client, mail

CORE_EXTENSIONS = {
    "UIDPLUS", "MOVE", "LITERAL+", "NAMESPACE", "ID", "ENABLE", "UNSELECT", "CHILDREN",
    "SASL-IR", "SPECIAL-USE", "CREATE-SPECIAL-USE", "IDLE",
}


def ok(result: tuple[str, list[object]]) -> list[object]:
    """The data of a command that must have succeeded."""
    typ, data = result
    assert typ == "OK", data
    return data


def refused(result: tuple[str, list[object]], code: str) -> None:
    """A command that got NO with the response code ``code``."""
    typ, data = result
    assert typ == "NO" and isinstance(data[0], bytes), data
    assert data[0].startswith(f"[{code}]".encode()), data


def capabilities(client: imaplib.IMAP4) -> set[str]:
    data = ok(client.capability())
    assert isinstance(data[0], bytes)
    return set(data[0].decode().upper().split())


def code_of(data: list[object]) -> list[str]:
    """The response code of a tagged reply, split into atoms."""
    text = data[-1]
    assert isinstance(text, bytes)
    match = re.match(rb"\[([^]]*)\]", text)
    assert match, text
    return match.group(1).decode().split()


def test_capabilities_before_and_after_login(users: MailhostTestServer) -> None:
    client = imap_client(users, user=None, implicit=False)
    before = capabilities(client)
    assert {"IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "LITERAL+", "SASL-IR", "ID"} <= before
    assert "UIDPLUS" not in before and "LOGINDISABLED" not in before  # loopback is trusted
    client.login(ALICE, ALICE_PASSWORD)
    after = capabilities(client)
    assert after >= CORE_EXTENSIONS
    assert f"APPENDLIMIT={users.config.imap.append_limit}" in after
    assert "STARTTLS" not in after and not any(c.startswith("AUTH=") for c in after)
    client.logout()
    secure = imap_client(users, user=None)
    assert "STARTTLS" not in capabilities(secure)  # already TLS: nothing to upgrade
    secure.logout()


def test_starttls_then_login(users: MailhostTestServer) -> None:
    client = imap_client(users, user=None, implicit=False)
    ok(client.starttls(ssl_context=users.client_ssl_context()))
    assert isinstance(client.sock, ssl.SSLSocket)
    assert "STARTTLS" not in capabilities(client)
    ok(client.login(ALICE, ALICE_PASSWORD))
    client.logout()


def test_login_needs_tls_when_loopback_is_not_trusted(
    mailhost_server_factory: ServerFactory,
) -> None:
    server = mailhost_server_factory(overrides={"auth": {"allow_cleartext_loopback": False}})
    server.add_user(ALICE, ALICE_PASSWORD)
    client = imap_client(server, user=None, implicit=False)
    caps = capabilities(client)
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps
    assert not any(c.startswith("AUTH=") for c in caps)
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        client.login(ALICE, ALICE_PASSWORD)
    client.starttls(ssl_context=server.client_ssl_context())
    assert "LOGINDISABLED" not in capabilities(client)
    ok(client.login(ALICE, ALICE_PASSWORD))
    client.logout()


def test_authenticate_plain_and_failures(users: MailhostTestServer) -> None:
    client = imap_client(users, user=None)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.authenticate("PLAIN", lambda _: f"\0{ALICE}\0wrong".encode())
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login(ALICE, "wrong")
    ok(client.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{ALICE_PASSWORD}".encode()))
    assert client.state == "AUTH"
    ok(client.noop())
    assert client.logout()[0] == "BYE"


def test_mailbox_commands_with_a_non_ascii_name(alice: imaplib.IMAP4) -> None:
    name = "Entwürfe/日本語"
    wire = imap_utf7.encode(name).decode()  # modified UTF-7 by imapclient, not by mailhost
    assert wire == "Entw&APw-rfe/&ZeVnLIqe-"
    ok(alice.create(wire))
    listed = [imap_utf7.decode(line.rsplit(b" ", 1)[1]) for line in ok(alice.list('""', "*"))
              if isinstance(line, bytes)]
    assert sorted(listed) == sorted(["INBOX", "Entwürfe", name])
    ok(alice.append(wire, "(\\Seen)", None, mail(1)))
    status = ok(alice.status(wire, "(MESSAGES UNSEEN UIDNEXT)"))
    assert status == [f"{wire} (MESSAGES 1 UNSEEN 0 UIDNEXT 2)".encode()]
    assert ok(alice.select(wire)) == [b"1"]
    ok(alice.close())
    renamed = imap_utf7.encode("Ärger").decode()
    ok(alice.rename(wire, renamed))
    ok(alice.subscribe(renamed))
    subscribed = [line.rsplit(b" ", 1)[1] for line in ok(alice.lsub('""', "*"))
                  if isinstance(line, bytes)]
    assert sorted(subscribed) == sorted([b"INBOX", renamed.encode()])
    ok(alice.unsubscribe(renamed))
    assert ok(alice.lsub('""', renamed)) == [None]
    assert ok(alice.select(renamed)) == [b"1"]
    ok(alice.unselect())
    ok(alice.delete(renamed))
    assert alice.select(renamed)[0] == "NO"
    assert sorted(line.rsplit(b" ", 1)[1] for line in ok(alice.list('""', "*"))
                  if isinstance(line, bytes)) == [imap_utf7.encode("Entwürfe"), b"INBOX"]


def test_select_examine_and_recent(users: MailhostTestServer) -> None:
    users.append(ALICE, mail(1))
    first, second = imap_client(users), imap_client(users)
    assert ok(first.select("INBOX")) == [b"1"]
    assert first.response("RECENT") == ("RECENT", [b"1"])
    assert ok(second.select("INBOX")) == [b"1"]
    assert second.response("RECENT") == ("RECENT", [b"0"])  # the first session took it
    assert ok(first.fetch("1", "FLAGS")) == [b"1 (FLAGS (\\Recent))"]
    assert ok(second.fetch("1", "FLAGS")) == [b"1 (FLAGS ())"]
    users.append(ALICE, mail(2))
    ok(second.noop())  # the second session hears of the new message first and takes it
    assert second.response("EXISTS") == ("EXISTS", [b"1", b"2"])  # SELECT's, then NOOP's
    assert ok(second.fetch("2", "FLAGS")) == [b"2 (FLAGS (\\Recent))"]
    ok(first.noop())
    assert ok(first.fetch("1:2", "FLAGS")) == [b"1 (FLAGS (\\Recent))", b"2 (FLAGS ())"]
    third = imap_client(users)
    assert ok(third.select("INBOX", readonly=True)) == [b"2"]
    assert third.response("READ-ONLY")[1] == [b""]
    for client in (first, second, third):
        client.logout()


def test_append_with_flags_and_date(alice: imaplib.IMAP4) -> None:
    when = datetime.datetime(1994, 2, 7, 21, 52, 25,
                             tzinfo=datetime.timezone(-datetime.timedelta(hours=8)))
    data = ok(alice.append("INBOX", "(\\Flagged $Project)", imaplib.Time2Internaldate(when),
                           mail(1)))
    appenduid = code_of(data)
    assert appenduid[0] == "APPENDUID" and appenduid[2] == "1"
    assert ok(alice.select("INBOX")) == [b"1"]
    assert alice.response("UIDVALIDITY")[1] == [appenduid[1].encode()]
    fetched = ok(alice.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE)"))
    assert fetched == [b'1 (FLAGS (\\Flagged $Project \\Recent) INTERNALDATE '
                       b'" 7-Feb-1994 21:52:25 -0800" RFC822.SIZE %d)' % len(mail(1))]
    refused(alice.append("NoSuchFolder", None, None, mail(2)), "TRYCREATE")


def test_store_forms_and_keywords(users: MailhostTestServer, alice: imaplib.IMAP4) -> None:
    for n in range(1, 4):
        users.append(ALICE, mail(n))
    ok(alice.select("INBOX"))
    assert ok(alice.store("1:2", "+FLAGS", "(\\Flagged $Important)")) == [
        b"1 (FLAGS (\\Flagged $Important \\Recent))", b"2 (FLAGS (\\Flagged $Important \\Recent))"]
    assert ok(alice.store("2", "-FLAGS", "($Important)")) == [b"2 (FLAGS (\\Flagged \\Recent))"]
    assert ok(alice.store("3", "FLAGS", "(\\Answered \\Draft Later)")) == [
        b"3 (FLAGS (\\Answered \\Draft Later \\Recent))"]
    assert ok(alice.store("1:3", "+FLAGS.SILENT", "(\\Seen)")) == [None]
    assert ok(alice.store("1", "FLAGS.SILENT", "(\\Deleted)")) == [None]
    assert users.message_flags(ALICE) == {
        1: ("\\Deleted",),
        2: ("\\Seen", "\\Flagged"),
        3: ("\\Seen", "\\Answered", "\\Draft", "Later"),
    }
    with pytest.raises(imaplib.IMAP4.error):
        alice.store("4", "+FLAGS", "(\\Seen)")  # beyond the last message: BAD


def test_copy_keeps_flags_and_internal_date(users: MailhostTestServer,
                                            alice: imaplib.IMAP4) -> None:
    users.append(ALICE, mail(1), flags=["\\Answered", "$Label1"])
    users.append(ALICE, mail(2))
    ok(alice.create("Archive"))
    ok(alice.select("INBOX"))
    source = ok(alice.fetch("1:2", "(FLAGS INTERNALDATE)"))
    copyuid = code_of(ok(alice.copy("1:2", "Archive")))
    assert copyuid[0] == "COPYUID" and copyuid[2:] == ["1:2", "1:2"]
    ok(alice.select("Archive"))
    copied = ok(alice.fetch("1:2", "(FLAGS INTERNALDATE)"))
    assert copied == source  # same flags (\Recent too: new here) and same INTERNALDATE
    assert ok(alice.fetch("1", "BODY.PEEK[]"))[0][1] == mail(1)  # type: ignore[index]
    refused(alice.copy("1", "Nowhere"), "TRYCREATE")


def test_expunge_close_and_check(users: MailhostTestServer, alice: imaplib.IMAP4) -> None:
    for n in range(1, 6):
        users.append(ALICE, mail(n), flags=["\\Deleted"] if n in (2, 4) else [])
    ok(alice.select("INBOX"))
    ok(alice.check())
    assert ok(alice.expunge()) == [b"2", b"3"]  # 2, then 4 renumbered as 3
    assert users.mailbox_uids(ALICE) == [1, 3, 5]
    ok(alice.store("1", "+FLAGS", "(\\Deleted)"))
    ok(alice.select("INBOX", readonly=True))
    refused(alice.expunge(), "READ-ONLY")
    ok(alice.close())  # EXAMINEd: CLOSE must not expunge
    assert users.mailbox_uids(ALICE) == [1, 3, 5]
    ok(alice.select("INBOX"))
    ok(alice.close())  # SELECTed: CLOSE expunges silently
    assert users.mailbox_uids(ALICE) == [3, 5]
    assert alice.state == "AUTH"
    with pytest.raises(imaplib.IMAP4.error):
        alice.check()  # no longer selected


def test_uid_commands(users: MailhostTestServer, alice: imaplib.IMAP4) -> None:
    for n in range(1, 5):
        users.append(ALICE, mail(n))
    ok(alice.select("INBOX"))
    ok(alice.store("1", "+FLAGS", "(\\Deleted)"))
    ok(alice.expunge())
    assert ok(alice.uid("SEARCH", "ALL")) == [b"2 3 4"]
    assert ok(alice.search(None, "ALL")) == [b"1 2 3"]
    assert ok(alice.uid("FETCH", "3:4", "(FLAGS)")) == [
        b"2 (UID 3 FLAGS (\\Recent))", b"3 (UID 4 FLAGS (\\Recent))"]
    assert ok(alice.uid("STORE", "4", "+FLAGS", "(\\Seen)")) == [
        b"3 (FLAGS (\\Seen \\Recent) UID 4)"]
    ok(alice.create("Other"))
    ok(alice.uid("COPY", "2:3", "Other"))
    assert ok(alice.status("Other", "(MESSAGES UIDNEXT)")) == [b"Other (MESSAGES 2 UIDNEXT 3)"]
    assert ok(alice.uid("FETCH", "1", "FLAGS")) == [None]  # expunged UID: nothing, no error
    assert ok(alice.uid("SEARCH", "UID", "1:2")) == [b"2"]


def test_noop_reports_other_sessions_changes(users: MailhostTestServer) -> None:
    users.append(ALICE, mail(1))
    users.append(ALICE, mail(2))
    watcher, actor = imap_client(users), imap_client(users)
    ok(watcher.select("INBOX"))
    ok(actor.select("INBOX"))
    ok(actor.store("1", "+FLAGS", "(\\Seen)"))
    ok(actor.store("2", "+FLAGS", "(\\Deleted)"))
    ok(actor.expunge())
    ok(actor.append("INBOX", None, None, mail(3)))
    ok(watcher.noop())
    assert watcher.response("FETCH")[1] == [b"1 (FLAGS (\\Seen \\Recent))"]
    assert watcher.response("EXPUNGE")[1] == [b"2"]
    assert watcher.response("EXISTS")[1] == [b"2", b"2"]  # SELECT's, then NOOP's
    assert ok(watcher.fetch("1:*", "UID")) == [b"1 (UID 1)", b"2 (UID 3)"]
    watcher.logout()
    actor.logout()


def test_a_subscription_outlives_delete_and_follows_rename(alice: imaplib.IMAP4) -> None:
    """RFC 3501 §6.3.6/§6.3.9, RFC 9051 §6.3.7, RFC 5258 §3.4: DELETE leaves the name
    subscribed (LSUB \\Noselect, LIST (SUBSCRIBED) \\NonExistent); re-creating the mailbox
    finds it subscribed again; RENAME takes the subscription along."""
    ok(alice.create("Lists/python"))
    ok(alice.subscribe("Lists/python"))
    ok(alice.delete("Lists/python"))
    assert ok(alice.lsub('""', "Lists/*")) == [b'(\\Noselect) "/" Lists/python']
    assert ok(alice.list('(SUBSCRIBED) ""', "*")) == [
        b'(\\HasNoChildren \\Subscribed) "/" INBOX',
        b'(\\NonExistent \\Subscribed) "/" Lists/python']
    # Not selected by SUBSCRIBED, a missing name is not listed (RFC 5258 §3.2).
    assert ok(alice.list('""', "Lists/*")) == [None]
    ok(alice.create("Lists/python"))
    assert ok(alice.lsub('""', "Lists/*")) == [b'() "/" Lists/python']
    assert ok(alice.list('""', "Lists/*")) == [b'(\\HasNoChildren) "/" Lists/python']
    ok(alice.rename("Lists", "Groups"))
    assert ok(alice.lsub('""', "*")) == [b'() "/" Groups/python', b'() "/" INBOX']
    ok(alice.subscribe("Elsewhere"))  # no such mailbox yet: subscribed all the same
    assert ok(alice.list('(SUBSCRIBED) ""', "E*")) == [
        b'(\\NonExistent \\Subscribed) "/" Elsewhere']
    ok(alice.unsubscribe("Elsewhere"))
    assert ok(alice.lsub('""', "E*")) == [None]
