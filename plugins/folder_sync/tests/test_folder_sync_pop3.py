"""What POP3 (poplib) sees with folder_sync: INBOX alone, or several folders merged."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from folder_sync_testkit import ALICE, BOB, PASSWORDS, message, pop3, start

from mailhost.testing.server import MailhostTestServer

Factory = Callable[..., MailhostTestServer]


def subjects(client: object, count: int) -> list[bytes]:
    out = []
    for number in range(1, count + 1):
        _resp, lines, _octets = client.top(number, 0)  # type: ignore[attr-defined]
        out.extend(line for line in lines if line.startswith(b"Subject:"))
    return out


def set_pop3_folders(server: MailhostTestServer, user: str, value: object) -> None:
    assert server.app is not None
    server.run(server.app.store.directory.set_setting(user, "folder_sync", "pop3_folders",
                                                      value))


def test_default_view_is_inbox_only(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory)
    server.append(ALICE, message("inbox mail"))
    server.append(ALICE, message("spam"), "Junk")
    with pop3(server) as client:
        assert client.stat()[0] == 1
        assert subjects(client, 1) == [b"Subject: inbox mail"]


def test_inbox_and_junk_merged_with_unique_uidls(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory, pop3_folders=["INBOX", "Spam"])  # an alias of Junk
    server.append(ALICE, message("first"))
    server.append(ALICE, message("filtered"), "Junk")
    server.append(ALICE, message("second"))
    with pop3(server) as client:
        count, _size = client.stat()
        assert count == 3
        assert subjects(client, 3) == [b"Subject: first", b"Subject: second",
                                       b"Subject: filtered"]
        uidls = [line.split()[1] for line in client.uidl()[1]]
        assert len(set(uidls)) == 3
        # Same UIDL in the next session: clients that leave mail on the server rely on it.
    with pop3(server) as again:
        assert [line.split()[1] for line in again.uidl()[1]] == uidls
        assert again.dele(3).startswith(b"+OK")
    assert server.mailbox_uids(ALICE, "Junk") == []
    assert len(server.mailbox_uids(ALICE, "INBOX")) == 2


def test_pop3_login_creates_the_special_use_folders(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory, pop3_folders=["INBOX", "Junk"])
    with pop3(server) as client:
        assert client.stat()[0] == 0

    async def special_uses(mail: object) -> dict[str, str | None]:
        return {box.name: box.special_use
                for box in await mail.list_mailboxes()}  # type: ignore[attr-defined]

    assert server.with_mail(ALICE, special_uses) == {
        "INBOX": None, "Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash",
        "Junk": "\\Junk", "Archive": "\\Archive",
    }


def test_per_user_override_wins_over_the_configured_list(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory)
    for user in (ALICE, BOB):
        server.append(user, message("inbox"))
        server.append(user, message("list mail"), "Lists")
    set_pop3_folders(server, ALICE, ["INBOX", "Lists", "No Such Folder"])
    with pop3(server, ALICE) as client:
        assert subjects(client, 2) == [b"Subject: inbox", b"Subject: list mail"]
    with pop3(server, BOB) as client:
        assert client.stat()[0] == 1


@pytest.mark.parametrize("broken", [[], "INBOX", ["INBOX", 7], ["../etc"]])
def test_a_broken_per_user_setting_is_logged_and_the_configured_list_used(
    mailhost_server_factory: Factory, caplog: pytest.LogCaptureFixture, broken: object,
) -> None:
    server = start(mailhost_server_factory, pop3_folders=["INBOX", "Junk"])
    server.append(ALICE, message("inbox"))
    server.append(ALICE, message("spam"), "Junk")
    set_pop3_folders(server, ALICE, broken)
    with caplog.at_level(logging.WARNING, logger="mailhost.folder_sync"), \
            pop3(server) as client:
        assert client.stat()[0] == 2
    assert any("ignoring per-user pop3_folders" in r.getMessage() and ALICE in r.getMessage()
               for r in caplog.records)


def test_reused_x_uidls_stay_unique_across_merged_folders(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory, overrides={"pop3": {"reuse_x_uidl": True}},
                   pop3_folders=["INBOX", "Junk"])
    migrated = message("migrated", "X-UIDL: old-server-17\r\n")
    server.append(ALICE, migrated)
    server.append(ALICE, migrated, "Junk")  # the same message copied into Junk
    with pop3(server) as client:
        uidls = [line.split()[1] for line in client.uidl()[1]]
    assert uidls[0] == b"old-server-17"
    assert len(uidls) == 2 and uidls[1] != uidls[0]


def test_folder_view_composes_with_leave_on_servers_maildrop_filter(
    mailhost_server_factory: Factory,
) -> None:
    """leave_on_server filters the maildrop the core builds from folder_sync's folder list."""
    server = mailhost_server_factory(
        enabled=["leave_on_server", "folder_sync"],
        plugin_settings={"leave_on_server": {"scope": "since_enabled"},
                         "folder_sync": {"pop3_folders": ["INBOX", "Junk"]}},
    )
    server.add_user(ALICE, PASSWORDS[ALICE])
    server.append(ALICE, message("before POP3 was used"))
    server.append(ALICE, message("old spam"), "Junk")
    with pop3(server) as client:
        assert client.stat()[0] == 0
    server.append(ALICE, message("new spam"), "Junk")
    server.append(ALICE, message("new mail"))
    with pop3(server) as client:
        assert subjects(client, 2) == [b"Subject: new mail", b"Subject: new spam"]
