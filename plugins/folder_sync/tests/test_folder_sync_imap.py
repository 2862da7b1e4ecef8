"""folder_sync through real IMAP clients (imaplib and IMAPClient) against a real server."""

from __future__ import annotations

from collections.abc import Callable

from folder_sync_testkit import (
    ALICE,
    imap,
    imapclient,
    message,
    names,
    response_code,
    start,
)
from imapclient.imapclient import ARCHIVE, DRAFTS, JUNK, SENT, TRASH

from mailhost.testing.server import MailhostTestServer

Factory = Callable[..., MailhostTestServer]
ROLE_FOLDERS = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk",
                "Archive": "\\Archive"}


def test_first_login_creates_and_subscribes_the_special_use_folders(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory)
    with imapclient(server) as client:
        listed = {name: flags for flags, _sep, name in client.list_folders()}
        for name, use in ROLE_FOLDERS.items():
            assert use.encode() in listed[name], (name, listed[name])
        assert {name for _f, _s, name in client.list_sub_folders()} >= set(ROLE_FOLDERS)
        for flag, name in ((SENT, "Sent"), (DRAFTS, "Drafts"), (TRASH, "Trash"),
                           (JUNK, "Junk"), (ARCHIVE, "Archive")):
            assert client.find_special_folder(flag) == name


def test_alias_created_and_filled_by_one_client_is_sent_for_another(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory)
    with imap(server) as outlookish:
        typ, data = outlookish.create('"Sent Items"')
        assert typ == "OK", data
        typ, data = outlookish.append('"Sent Items"', "(\\Seen)", None, message("from outlook"))
        assert typ == "OK" and b"APPENDUID" in data[0], data
        typ, data = outlookish.select('"Sent Items"')
        assert (typ, data) == ("OK", [b"1"])
    with imapclient(server) as thunderbirdish:
        folders = {name: flags for flags, _sep, name in thunderbirdish.list_folders()}
        assert "Sent Items" not in folders
        assert SENT in folders["Sent"]
        assert thunderbirdish.find_special_folder(SENT) == "Sent"
        assert thunderbirdish.select_folder("Sent", readonly=True)[b"EXISTS"] == 1
        fetched = thunderbirdish.fetch(thunderbirdish.search("ALL"),
                                       ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "FLAGS"])
        (data,) = fetched.values()
        assert b"from outlook" in data[b"BODY[HEADER.FIELDS (SUBJECT)]"]
        assert b"\\Seen" in data[b"FLAGS"]
    assert len(server.mailbox_uids(ALICE, "Sent")) == 1
    assert server.mailbox_uids(ALICE, "Sent Items") == []


def test_copy_move_status_subscribe_and_examine_follow_aliases(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory)
    for subject in ("one", "two", "three"):
        server.append(ALICE, message(subject))
    with imap(server) as client:
        client.select("INBOX")
        assert client.copy("1", '"Deleted Items"')[0] == "OK"
        assert client.uid("MOVE", "2", '"Junk E-mail"')[0] == "OK"
        typ, data = client.status('"Deleted Messages"', "(MESSAGES)")
        assert typ == "OK" and data == [b'"Deleted Messages" (MESSAGES 1)'], data
        typ, data = client.status("Spam", "(MESSAGES)")
        assert typ == "OK" and data == [b"Spam (MESSAGES 1)"], data
        assert client.unsubscribe('"Bulk Mail"')[0] == "OK"
        assert "Junk" not in names(client, "LSUB")
        assert client.subscribe("spam")[0] == "OK"
        assert "Junk" in names(client, "LSUB")
        assert client.select('"Junk E-mail"', readonly=True) == ("OK", [b"1"])
        typ, data = client.getquotaroot('"Sent Messages"')
        assert typ == "OK" and data[0] == [b'"Sent Messages" ""'], data
    assert len(server.mailbox_uids(ALICE, "Trash")) == 1
    assert len(server.mailbox_uids(ALICE, "Junk")) == 1
    assert len(server.mailbox_uids(ALICE, "INBOX")) == 2
    listed = names_of(server)
    assert not {"Deleted Items", "Junk E-mail", "Deleted Messages", "Bulk Mail"} & listed


def names_of(server: MailhostTestServer) -> set[str]:
    async def go(mail: object) -> set[str]:
        return {box.name for box in await mail.list_mailboxes()}  # type: ignore[attr-defined]
    return server.with_mail(ALICE, go)


def test_create_of_an_alias_path_and_of_the_standard_name(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory)
    with imap(server) as client:
        assert response_code(client.create("Sent")) == ("NO", "ALREADYEXISTS")
        assert client.create('"Archives/2019"')[0] == "OK"
        listing = names(client)
        assert "Archive/2019" in listing and "Archives" not in listing
        assert client.create('"Sent Items/"')[0] == "OK"
        assert "Sent Items" not in names(client)


def test_a_real_folder_with_an_alias_name_wins_until_merged(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory)
    server.append(ALICE, message("legacy"), "Sent Items")  # made before the plugin was enabled
    with imap(server) as client:
        assert client.select('"Sent Items"') == ("OK", [b"1"])
        client.close()
        assert client.select("Sent") == ("OK", [b"0"])
        assert "Sent Items" in names(client)


def test_hidden_folders_are_invisible_and_cannot_be_opened(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory, hidden=["Quarantine"])
    server.append(ALICE, message("held"), "Quarantine")
    server.with_mail(ALICE, lambda mail: mail.set_subscribed("Quarantine", True))
    with imap(server) as client:
        assert "Quarantine" not in names(client)
        assert "Quarantine" not in names(client, "LSUB")
        assert response_code(client.select("Quarantine")) == ("NO", "NONEXISTENT")
        assert response_code(client.select("Quarantine", readonly=True)) == ("NO", "NONEXISTENT")
        assert response_code(client.status("Quarantine", "(MESSAGES)")) == ("NO", "NONEXISTENT")
        assert response_code(client.append("Quarantine", None, None, message("x"))) == (
            "NO", "TRYCREATE")
        assert response_code(client.create("Quarantine")) == ("NO", "CANNOT")
        assert response_code(client.delete("Quarantine")) == ("NO", "NONEXISTENT")
        assert response_code(client.rename("Quarantine", "Mine")) == ("NO", "NONEXISTENT")
        assert response_code(client.rename("Junk", "Quarantine")) == ("NO", "CANNOT")
        assert response_code(client.subscribe("Quarantine")) == ("NO", "NONEXISTENT")
        client.select("INBOX")
        assert response_code(client.copy("1:*", "Quarantine")) == ("NO", "TRYCREATE")
    assert len(server.mailbox_uids(ALICE, "Quarantine")) == 1


def test_a_hidden_pattern_hides_whole_subtrees(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory, hidden=["Archive/Old", "%/Private"])
    for folder in ("Archive/Old", "Archive/Old/2019", "Work/Private/Taxes", "Work/Public"):
        server.append(ALICE, message(folder), folder)
        server.with_mail(ALICE, lambda mail, f=folder: mail.set_subscribed(f, True))
    with imap(server) as client:
        assert {"Archive", "Work/Public"} <= set(names(client))
        for command in ("LIST", "LSUB"):
            shown = names(client, command)
            assert not {"Archive/Old", "Archive/Old/2019", "Work/Private",
                        "Work/Private/Taxes"} & set(shown), (command, shown)
        typ, data = client.list('""', "Archive/*")
        assert (typ, data) == ("OK", [None]), data
        assert "\\HasNoChildren" in names(client)["Archive"]
        for hidden in ("Archive/Old/2019", "Work/Private/Taxes", "Work/Private"):
            assert response_code(client.status(f'"{hidden}"', "(MESSAGES)")) == (
                "NO", "NONEXISTENT"), hidden
            assert response_code(client.select(f'"{hidden}"')) == ("NO", "NONEXISTENT")
        assert response_code(client.create('"Archive/Old/2020"')) == ("NO", "CANNOT")
        assert response_code(client.create('"Home/Private"')) == ("NO", "CANNOT")
        assert response_code(client.rename('"Work/Public"', '"Archive/Old"')) == (
            "NO", "CANNOT")
        assert response_code(client.rename('"Work/Public"', '"Archive/Old/Public"')) == (
            "NO", "CANNOT")
        # Renamed, Work would carry Work/Private out under a visible name.
        assert client.create("Work")[0] == "OK"
        typ, data = client.rename("Work", "Job")
        assert typ == "NO" and b"[CANNOT] Work has subfolders" in data[0], data
        assert client.rename('"Work/Public"', '"Work/Shown"')[0] == "OK"
        assert client.status('"Work/Shown"', "(MESSAGES)") == (
            "OK", [b"Work/Shown (MESSAGES 1)"])
    assert len(server.mailbox_uids(ALICE, "Archive/Old/2019")) == 1
    assert len(server.mailbox_uids(ALICE, "Work/Private/Taxes")) == 1
    assert server.mailbox_uids(ALICE, "Archive/Old/2020") == []


def test_protected_patterns_refuse_delete_and_rename(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory, protected=["Clients/*", "inbox"])
    with imap(server) as client:
        for folder in ("Clients/Acme", "Clients/Acme/2019", "Other"):
            assert client.create(f'"{folder}"')[0] == "OK"
        for folder in ("Clients/Acme", "Clients/Acme/2019", "Clients"):
            assert response_code(client.delete(f'"{folder}"')) == ("NO", "CANNOT"), folder
            assert response_code(client.rename(f'"{folder}"', "Moved")) == ("NO", "CANNOT")
        _typ, data = client.delete("Clients")
        assert b"contains the protected folder Clients/Acme" in data[0]
        assert response_code(client.rename("INBOX", "Old-INBOX")) == ("NO", "CANNOT")
        assert client.rename("Other", "Others")[0] == "OK"
        assert client.delete("Others")[0] == "OK"
        assert {"Clients", "Clients/Acme", "Clients/Acme/2019"} <= set(names(client))


def test_protected_folders_survive_delete_and_rename(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory, protected=["Lists/family"])
    server.append(ALICE, message("sent mail"), "Sent")
    with imap(server) as client:
        assert client.create('"Lists/family"')[0] == "OK"
        assert client.append('"Lists/family"', None, None, message("family"))[0] == "OK"
        for name in ("Sent", "Trash", "Junk", "Drafts", "Archive", "Lists/family"):
            typ, code = response_code(client.delete(name))
            assert (typ, code) == ("NO", "CANNOT"), name
        typ, data = client.delete('"Deleted Items"')
        assert typ == "NO" and b"another name for Trash" in data[0]
        assert response_code(client.rename("Sent", "Old")) == ("NO", "CANNOT")
        assert response_code(client.rename('"Sent Items"', "Old")) == ("NO", "CANNOT")
        assert response_code(client.rename("Lists", "Groups")) == ("NO", "CANNOT")
        assert response_code(client.delete("INBOX")) == ("NO", "CANNOT")
        listing = names(client)
    assert set(ROLE_FOLDERS) | {"INBOX", "Lists", "Lists/family"} <= set(listing)
    assert "\\Sent" in listing["Sent"]
    assert len(server.mailbox_uids(ALICE, "Sent")) == 1


def test_recreate_mode_brings_deleted_and_renamed_folders_back(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory, special_folders="recreate")
    with imap(server) as client:
        assert client.delete("Trash")[0] == "OK"
        assert client.rename("Sent", '"Old Sent"')[0] == "OK"
        listing = names(client)
        assert "Trash" not in listing and "Sent" not in listing
        assert "\\Sent" not in listing["Old Sent"]
        # A client saving a sent message does not need a TRYCREATE round trip.
        assert client.append('"Sent Items"', None, None, message("saved"))[0] == "OK"
        assert "\\Sent" in names(client)["Sent"]
        assert client.rename('"Old Sent"', "Drafts")[0] == "NO"  # exists: core refuses
    with imap(server) as again:
        listing = names(again, "LIST")
        assert "\\Trash" in listing["Trash"]
        assert "Trash" in names(again, "LSUB")
    assert len(server.mailbox_uids(ALICE, "Sent")) == 1


def test_renaming_a_folder_onto_a_deleted_role_name_makes_it_the_role_folder(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory, special_folders="recreate")
    with imap(server) as client:
        assert client.delete("Junk")[0] == "OK"
        assert client.create("Filtered")[0] == "OK"
        assert client.rename("Filtered", "Spam")[0] == "OK"
        listing = names(client)
        assert "\\Junk" in listing["Junk"] and "Spam" not in listing


def test_existing_folder_without_the_attribute_is_marked_at_login(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory)
    server.append(ALICE, message("old"), "Drafts")  # plain folder from before
    server.with_mail(ALICE, lambda mail: mail.set_special_use("Drafts", "\\Flagged"))
    with imap(server) as client:
        assert names(client)["Drafts"] >= {"\\Drafts", "\\Flagged"}
    assert len(server.mailbox_uids(ALICE, "Drafts")) == 1
