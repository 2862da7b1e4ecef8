"""The delivery decide hook, called the way SMTP/LMTP ingestion will call it.

Ingestion is built in parallel, so these tests ask ``app.plugins.decide`` directly (as the
ingestion code does) and store the message where the decision says, then look with IMAP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from folder_sync_testkit import ALICE, BOB, imap, message, names, start

from mailhost.decisions import Deliver
from mailhost.plugins import PluginError
from mailhost.store.interface import TemporaryStoreError
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.testing.server import MailhostTestServer

Factory = Callable[..., MailhostTestServer]
RULES = [
    {"header": "X-Spam-Flag", "contains": "YES", "folder": "Spam"},
    {"header": "List-Id", "contains": "family.example.org", "folder": "Lists/family"},
]


def decide(server: MailhostTestServer, raw: bytes, address: str = ALICE,
           recipient: str = ALICE) -> Deliver:
    assert server.app is not None
    decision = server.run(server.app.plugins.decide(
        "mailhost_delivery_decide", app=server.app, recipient=recipient, address=address,
        sender="carol@example.org", message=raw, protocol="test",
    ))
    assert isinstance(decision, Deliver)
    return decision


def deliver(server: MailhostTestServer, raw: bytes, address: str = ALICE,
            recipient: str = ALICE) -> str:
    """Decide, then store where the decision says; returns the folder."""
    folder = decide(server, raw, address, recipient).folder
    server.append(recipient, raw, folder)
    return folder


def test_header_rules_file_into_created_subscribed_folders(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory, rules=RULES)
    family = message("family news", "List-Id: Family <news.family.example.org>\r\n")
    assert deliver(server, family) == "Lists/family"
    assert deliver(server, message("spam", "X-Spam-Flag: YES\r\n")) == "Junk"  # Spam is Junk
    assert deliver(server, message("plain")) == "INBOX"  # no rule: the default decides
    with imap(server) as client:
        assert {"Lists", "Lists/family"} <= set(names(client))
        assert "Lists/family" in names(client, "LSUB")
        assert client.select('"Lists/family"', readonly=True) == ("OK", [b"1"])
        assert client.select("Junk", readonly=True) == ("OK", [b"1"])
        assert client.select("INBOX", readonly=True) == ("OK", [b"1"])


def test_first_delivery_creates_the_special_use_folders(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory)
    assert deliver(server, message("welcome")) == "INBOX"

    async def special_uses(mail: SqliteMailStore) -> set[str]:
        return {box.special_use or "" for box in await mail.list_mailboxes()}

    assert server.with_mail(ALICE, special_uses) == {"", "\\Sent", "\\Drafts", "\\Trash",
                                                     "\\Junk", "\\Archive"}


def test_subaddress_tags_file_by_tag(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory, subaddress_filing=True, subaddress_prefix="Tags/")
    assert deliver(server, message("order"), "alice+shop@example.test") == "Tags/shop"
    assert deliver(server, message("again"), "alice+SHOP@example.test") == "Tags/shop"
    assert deliver(server, message("no tag")) == "INBOX"
    assert len(server.mailbox_uids(ALICE, "Tags/shop")) == 2


def test_tags_reuse_folders_and_never_reach_role_or_hidden_folders(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory, subaddress_filing=True, hidden=["secret"])
    server.append(ALICE, message("existing"), "Lists")
    assert deliver(server, message("a"), "alice+lists@example.test") == "Lists"
    for tag in ("drafts", "Sent", "spam", "secret", "inbox", "a*b"):
        assert deliver(server, message(tag), f"alice+{tag}@example.test") == "INBOX", tag
    with imap(server) as client:
        assert {"drafts", "spam", "secret", "a*b"}.isdisjoint(names(client))


def test_without_subaddress_filing_or_creation(mailhost_server_factory: Factory) -> None:
    off = start(mailhost_server_factory)
    assert deliver(off, message("x"), "alice+news@example.test") == "INBOX"
    existing_only = start(mailhost_server_factory, subaddress_filing=True,
                          subaddress_create=False)
    existing_only.append(ALICE, message("old"), "news")
    assert deliver(existing_only, message("y"), "alice+news@example.test") == "news"
    assert deliver(existing_only, message("z"), "alice+other@example.test") == "INBOX"


def test_a_store_failure_is_a_temporary_failure_named_after_the_plugin(
    mailhost_server_factory: Factory, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start(mailhost_server_factory, rules=RULES)
    decide(server, message("first"), recipient=BOB)  # creates Bob's folders

    async def disk_full(*args: object, **kwargs: object) -> None:
        raise TemporaryStoreError("database or disk is full")

    monkeypatch.setattr(SqliteMailStore, "create_mailbox", disk_full)
    family = message("news", "List-Id: <x.family.example.org>\r\n")
    with caplog.at_level(logging.ERROR, logger="mailhost.plugins"), \
            pytest.raises(PluginError) as info:
        decide(server, family, recipient=BOB)
    assert info.value.plugin == "folder_sync"
    assert "failed in mailhost_delivery_decide" in caplog.text
    # The next message, needing no new folder, is filed as usual.
    assert decide(server, message("plain"), recipient=BOB).folder == "INBOX"


def test_a_failing_login_hook_does_not_stop_the_login(
    mailhost_server_factory: Factory, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start(mailhost_server_factory)

    async def broken(*args: object, **kwargs: object) -> None:
        raise TemporaryStoreError("I/O error")

    monkeypatch.setattr(SqliteMailStore, "create_mailbox", broken)
    with caplog.at_level(logging.ERROR, logger="mailhost.plugins"), imap(server) as client:
        assert client.select("INBOX") == ("OK", [b"0"])
        assert "Sent" not in names(client)
    assert "plugin 'folder_sync' failed in mailhost_login" in caplog.text
