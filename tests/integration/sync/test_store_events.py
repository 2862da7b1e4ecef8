"""mailhost_store_event: a plugin hears of every mailbox and message change, whichever
protocol made it (IMAP, POP3, delivery), after it is committed."""

from __future__ import annotations

import poplib
from collections.abc import Iterator

import pytest

from mailhost.app import App
from mailhost.hookspecs import hookimpl
from mailhost.store.events import StoreEvent
from mailhost.testing import ServerFactory
from mailhost.testing.clients import ImapWire
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, wait_until

Seen = tuple[str, str, tuple[int, ...], str | None]


class Recorder:
    """A plugin that writes down each event it is told of."""

    def __init__(self) -> None:
        self.events: list[Seen] = []

    @hookimpl
    def mailhost_store_event(self, app: App, event: StoreEvent) -> None:
        assert event.account == ALICE
        self.events.append((event.kind, event.mailbox, event.uids, event.new_name))

    def take(self, count: int) -> list[Seen]:
        """The next ``count`` events (they run in the background, so wait a little)."""
        assert wait_until(lambda: len(self.events) >= count), self.events
        taken, self.events[:] = self.events[:count], self.events[count:]
        return taken


@pytest.fixture
def recorder(mailhost_server_factory: ServerFactory) -> Iterator[tuple[Recorder, ImapWire,
                                                                      MailhostTestServer]]:
    plugin = Recorder()
    server = mailhost_server_factory(plugins=[("recorder", plugin)])
    server.add_user(ALICE, ALICE_PASSWORD)
    wire = ImapWire(server.port("imap", "starttls"))
    wire.login(ALICE, ALICE_PASSWORD)
    yield plugin, wire, server
    wire.close()


def test_every_change_is_an_event(
    recorder: tuple[Recorder, ImapWire, MailhostTestServer],
) -> None:
    plugin, wire, server = recorder
    wire.ok(b"CREATE Work")
    assert plugin.take(1) == [("mailbox_created", "Work", (), None)]
    wire.ok(b"RENAME Work Projects")
    assert plugin.take(1) == [("mailbox_renamed", "Work", (), "Projects")]
    server.append(ALICE, b"Subject: delivered\r\n\r\nhi\r\n")
    wire.append(b"INBOX", b"Subject: appended\r\n\r\nhi\r\n")
    assert plugin.take(2) == [("message_stored", "INBOX", (1,), None),
                              ("message_stored", "INBOX", (2,), None)]
    wire.ok(b"SELECT INBOX")
    wire.ok(b"STORE 1:2 +FLAGS (\\Flagged)")
    assert plugin.take(1) == [("flags_changed", "INBOX", (1, 2), None)]
    wire.ok(b"STORE 1:2 +FLAGS (\\Flagged)")  # no change, no event
    wire.ok(b"COPY 1 Projects")
    assert plugin.take(1) == [("message_stored", "Projects", (1,), None)]
    wire.ok(b"MOVE 2 Projects")
    assert plugin.take(2) == [("message_stored", "Projects", (2,), None),
                              ("expunged", "INBOX", (2,), None)]
    wire.ok(b"STORE 1 +FLAGS (\\Deleted)")
    wire.ok(b"EXPUNGE")
    assert plugin.take(2) == [("flags_changed", "INBOX", (1,), None),
                              ("expunged", "INBOX", (1,), None)]
    wire.ok(b"DELETE Projects")
    assert plugin.take(1) == [("mailbox_deleted", "Projects", (), None)]
    server.append(ALICE, b"Subject: for pop\r\n\r\nhi\r\n")
    pop = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)
    pop.user(ALICE)
    pop.pass_(ALICE_PASSWORD)
    pop.dele(1)
    pop.quit()
    assert plugin.take(2) == [("message_stored", "INBOX", (3,), None),
                              ("expunged", "INBOX", (3,), None)]
    assert plugin.events == []


def test_changes_made_in_a_renamed_selected_mailbox_carry_its_new_name(
    recorder: tuple[Recorder, ImapWire, MailhostTestServer],
) -> None:
    """A session that had the mailbox selected before another session renamed it goes on
    changing it; the events name the mailbox as it is called when the change commits."""
    plugin, wire, server = recorder
    wire.ok(b"CREATE Work")
    wire.append(b"Work", b"Subject: one\r\n\r\nhi\r\n")
    wire.ok(b"SELECT Work")
    other = ImapWire(server.port("imap", "starttls"))
    other.login(ALICE, ALICE_PASSWORD)
    other.ok(b"RENAME Work Projects")
    other.close()
    assert plugin.take(3)[-1] == ("mailbox_renamed", "Work", (), "Projects")
    wire.ok(b"STORE 1 +FLAGS (\\Deleted)")
    wire.ok(b"EXPUNGE")
    assert plugin.take(2) == [("flags_changed", "Projects", (1,), None),
                              ("expunged", "Projects", (1,), None)]
