"""Retention against a real server: IDLE sees the sweep's EXPUNGE, plugins veto, holds hold.

Messages are backdated by rewriting their save date in the account database: that is the only
way to have month-old mail in a test, and it is what the rules read.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from mailhost_retention.policy import Hold, hold_to_json, rule_to_json
from mailhost_retention.report import UserResult
from mailhost_retention.settings import RetentionSettings, Rule
from mailhost_retention.sweep import NAMESPACE, log_results, run_schedule, sweep

from mailhost.hookspecs import hookimpl
from mailhost.store.interface import MessageMeta
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.testing.server import MailhostTestServer

ALICE, BOB, CAROL, DAVE = (f"{name}@example.test" for name in ("alice", "bob", "carol", "dave"))
PASSWORD = "retention test password"
DAY = 86400.0
TRASH_30D = {"special_use": "\\Trash", "max_age": "30d"}

Factory = Callable[..., MailhostTestServer]


def message(n: int) -> bytes:
    return (f"From: list@example.test\r\nTo: {ALICE}\r\nSubject: message {n}\r\n"
            f"Date: Mon, 1 Jan 2001 00:00:00 +0000\r\n\r\nbody {n}\r\n").encode()


def fill(server: MailhostTestServer, user: str, mailbox: str, count: int,
         special_use: str | None = None, flags: Sequence[Sequence[str]] = ()) -> list[int]:
    """Create ``mailbox`` (with a special use) holding ``count`` fresh messages."""
    async def go(mail: SqliteMailStore) -> list[int]:
        if await mail.get_mailbox(mailbox) is None:
            await mail.create_mailbox(mailbox, special_use)
        uids = []
        for i in range(count):
            wanted = list(flags[i]) if i < len(flags) else []
            uids.append((await mail.append(mailbox, message(i), wanted))[1].uid)
        return uids
    return server.with_mail(user, go)


def backdate(server: MailhostTestServer, user: str, mailbox: str, uids: Sequence[int],
             days: float) -> None:
    """Make messages look saved ``days`` ago."""
    async def go(mail: SqliteMailStore) -> None:
        box = await mail.get_mailbox(mailbox)
        assert box is not None
        await mail.run(lambda conn: conn.executemany(
            "UPDATE message SET savedate = ? WHERE mailbox_id = ? AND uid = ?",
            [(time.time() - days * DAY, box.id, uid) for uid in uids]))
    server.with_mail(user, go)


def usage(server: MailhostTestServer, user: str) -> tuple[int, int]:
    async def go(mail: SqliteMailStore) -> tuple[int, int]:
        return await mail.usage()
    return server.with_mail(user, go)


def run_sweep(server: MailhostTestServer, users: Sequence[str] | None = None,
              dry_run: bool = False) -> dict[str, UserResult]:
    assert server.app is not None
    settings: RetentionSettings = server.app.plugin_settings("retention")
    results = server.run(sweep(server.app, settings, users, dry_run=dry_run))
    return {result.user: result for result in results}


def set_user(server: MailhostTestServer, user: str, key: str, value: Any) -> None:
    assert server.app is not None
    server.run(server.app.store.directory.set_setting(user, NAMESPACE, key, value))


def start(factory: Factory, users: Sequence[str] = (ALICE,), plugins: Sequence[Any] = (),
          **settings: Any) -> MailhostTestServer:
    values = {"sweep": False, "rules": [TRASH_30D], **settings}
    server = factory(enabled=["retention"], plugin_settings={"retention": values},
                     plugins=list(plugins))
    for user in users:
        server.add_user(user, PASSWORD)
    return server


# -- the scheduled sweep and an IMAP session in IDLE ------------------------------------------


def test_scheduled_sweep_expunges_and_idle_session_sees_it(
    mailhost_server_factory: Factory,
) -> None:
    server = start(mailhost_server_factory, sweep=True, interval="0.2s", first_sweep="0.1s")
    fill(server, ALICE, "Trash", 4, "\\Trash")
    fill(server, ALICE, "Archive", 2)
    backdate(server, ALICE, "Archive", [1, 2], 400)  # no rule for Archive: stays
    before = usage(server, ALICE)

    imap = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=10)
    try:
        imap.login(ALICE, PASSWORD)
        assert imap.select("Trash")[1] == [b"4"]
        tag = imap._new_tag()
        imap.send(tag + b" IDLE\r\n")
        assert imap.readline().startswith(b"+ ")
        backdate(server, ALICE, "Trash", [1, 3], 31)  # the next sweep takes these two
        expunges: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(expunges) < 2 and time.monotonic() < deadline:
            line = imap.readline()
            assert line, "server closed the connection"
            if line.endswith(b" EXPUNGE\r\n"):
                expunges.append(line)
        # Replaying the EXPUNGEs (each renumbers the messages after it) on the client's view
        # must leave exactly UIDs 2 and 4, whatever order the server reports them in.
        view = [1, 2, 3, 4]
        for line in expunges:
            del view[int(line.split()[1]) - 1]
        assert view == [2, 4]
        imap.send(b"DONE\r\n")
        assert imap.readline().startswith(tag + b" OK")
        status, data = imap.uid("SEARCH", "ALL")
        assert status == "OK" and data == [b"2 4"]
    finally:
        imap.logout()

    assert server.mailbox_uids(ALICE, "Trash") == [2, 4]
    assert server.mailbox_uids(ALICE, "Archive") == [1, 2]
    after = usage(server, ALICE)
    assert after[1] == before[1] - 2 and after[0] < before[0]  # quota freed at once


def test_no_scheduled_sweep_when_disabled(mailhost_server_factory: Factory) -> None:
    def names(server: MailhostTestServer) -> set[str]:
        async def go() -> set[str]:
            return {task.get_name() for task in asyncio.all_tasks()}
        return server.run(go())

    assert "retention-sweep" in names(start(mailhost_server_factory, sweep=True))
    assert "retention-sweep" not in names(start(mailhost_server_factory, sweep=False))


def test_scheduled_sweep_survives_a_failing_round(
    mailhost_server_factory: Factory, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = start(mailhost_server_factory)  # no schedule yet: set up the failure first
    assert server.app is not None
    directory = server.app.store.directory
    real_list_users = directory.list_users
    calls = 0

    async def flaky() -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("directory unreadable")
        return await real_list_users()

    monkeypatch.setattr(directory, "list_users", flaky)
    fill(server, ALICE, "Trash", 1, "\\Trash")
    backdate(server, ALICE, "Trash", [1], 40)
    settings = RetentionSettings(rules=[Rule(special_use="\\Trash", max_age="30d")],
                                 interval="0.05s", first_sweep="0.01s")
    with caplog.at_level(logging.ERROR, logger="mailhost.retention"):
        task = server.run(_spawn(server, run_schedule(server.app, settings)))
        deadline = time.monotonic() + 10
        while server.mailbox_uids(ALICE, "Trash") and time.monotonic() < deadline:
            time.sleep(0.05)
        task.cancel()
    assert server.mailbox_uids(ALICE, "Trash") == []
    assert calls >= 2
    assert any("sweep failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def _spawn(server: MailhostTestServer, coro: Any) -> asyncio.Task[Any]:
    assert server.app is not None
    return server.app.spawn(coro, name="retention-test-schedule")


# -- rules, overrides and holds --------------------------------------------------------------


def test_age_count_and_pattern_rules(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory, rules=[
        TRASH_30D,
        {"folder": "Lists/*", "max_age": "90d", "max_count": 3, "name": "lists"},
    ])
    fill(server, ALICE, "Trash", 3, "\\Trash")
    fill(server, ALICE, "Lists/python", 5)
    fill(server, ALICE, "Lists/rust/announce", 1)
    fill(server, ALICE, "INBOX", 1)
    backdate(server, ALICE, "Trash", [2], 31)
    backdate(server, ALICE, "Trash", [3], 29)
    backdate(server, ALICE, "Lists/python", [5], 5)  # newest UID, oldest save: goes by count
    backdate(server, ALICE, "Lists/rust/announce", [1], 100)
    backdate(server, ALICE, "INBOX", [1], 5000)

    preview = run_sweep(server, dry_run=True)[ALICE]
    assert {f.mailbox: f.expunged for f in preview.folders} == {
        "Trash": [2], "Lists/python": [1, 5], "Lists/rust/announce": [1]}
    assert server.mailbox_uids(ALICE, "Lists/python") == [1, 2, 3, 4, 5]  # dry run

    result = run_sweep(server)[ALICE]
    folders = {f.mailbox: f for f in result.folders}
    assert (folders["Lists/python"].rule, folders["Lists/python"].by_count) == ("lists", 2)
    assert (folders["Lists/rust/announce"].by_age, folders["Trash"].rule) == (1, "\\Trash")
    assert server.mailbox_uids(ALICE, "Trash") == [1, 3]
    assert server.mailbox_uids(ALICE, "Lists/python") == [2, 3, 4]
    assert server.mailbox_uids(ALICE, "Lists/rust/announce") == []
    assert server.mailbox_uids(ALICE, "INBOX") == [1]
    assert run_sweep(server)[ALICE].folders == []  # nothing left to do


def test_hold_and_user_overrides(mailhost_server_factory: Factory) -> None:
    server = start(mailhost_server_factory, users=(ALICE, BOB, CAROL, DAVE))
    for user in (ALICE, BOB, CAROL, DAVE):
        fill(server, user, "Trash", 2, "\\Trash")
        backdate(server, user, "Trash", [1], 10)
        backdate(server, user, "Trash", [2], 40)
    set_user(server, ALICE, "hold", hold_to_json(Hold("case 17", time.time())))
    set_user(server, ALICE, "rules", [rule_to_json(Rule(special_use="\\Trash", max_age="1d"))])
    set_user(server, BOB, "rules", [rule_to_json(Rule(special_use="\\Trash", max_age="7d"))])
    set_user(server, DAVE, "rules", [rule_to_json(Rule(folder="Tr*"))])  # keep forever

    results = run_sweep(server)
    hold = results[ALICE].hold
    assert hold is not None and hold.reason == "case 17" and time.time() - hold.since < 60
    assert server.mailbox_uids(ALICE, "Trash") == [1, 2]  # the hold wins over every rule
    assert server.mailbox_uids(BOB, "Trash") == []  # own 7 days instead of the default
    assert server.mailbox_uids(CAROL, "Trash") == [1]  # the default 30 days
    assert server.mailbox_uids(DAVE, "Trash") == [1, 2]  # own rule first: keep forever

    set_user(server, ALICE, "hold", None)
    run_sweep(server, users=[ALICE])
    assert server.mailbox_uids(ALICE, "Trash") == []  # hold off: her own 1 day applies


# -- the decide hook ---------------------------------------------------------------------------


class NeverExpireFlagged:
    """The issue's example: a plugin that vetoes expiring flagged mail."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int, str]] = []

    @hookimpl
    def mailhost_retention_decide(self, app: Any, username: str, mailbox: str,
                                  message: MessageMeta, rule: str) -> bool | None:
        self.asked.append((username, mailbox, message.uid, rule))
        return False if "\\Flagged" in message.flags else None


def test_plugin_vetoes_flagged_mail(mailhost_server_factory: Factory) -> None:
    plugin = NeverExpireFlagged()
    server = start(mailhost_server_factory, plugins=[("neverflagged", plugin)],
                   rules=[TRASH_30D, {"folder": "Lists/%", "max_count": 1}])
    fill(server, ALICE, "Trash", 3, "\\Trash", flags=[["\\Flagged"], [], ["\\Seen"]])
    backdate(server, ALICE, "Trash", [1, 2, 3], 40)
    fill(server, ALICE, "Lists/a", 3, flags=[["\\Flagged"]])
    fill(server, ALICE, "INBOX", 1, flags=[["\\Flagged"]])

    result = run_sweep(server)[ALICE]
    assert {f.mailbox: (f.expunged, f.kept) for f in result.folders} == {
        "Trash": ([2, 3], [1]), "Lists/a": ([2], [1])}
    assert server.mailbox_uids(ALICE, "Trash") == [1]
    # The kept flagged message still counts: no newer message went in its place.
    assert server.mailbox_uids(ALICE, "Lists/a") == [1, 3]
    # Only messages a rule selected are offered to the hook, with the rule's label.
    assert sorted(plugin.asked) == [
        (ALICE, "Lists/a", 1, "Lists/%"), (ALICE, "Lists/a", 2, "Lists/%"),
        (ALICE, "Trash", 1, "\\Trash"), (ALICE, "Trash", 2, "\\Trash"),
        (ALICE, "Trash", 3, "\\Trash")]


class BrokenInLists:
    @hookimpl
    def mailhost_retention_decide(self, app: Any, username: str, mailbox: str,
                                  message: MessageMeta, rule: str) -> bool | None:
        if mailbox.startswith("Lists/"):
            raise RuntimeError("policy backend down")
        return None


def test_failing_plugin_keeps_the_message_and_the_sweep_goes_on(
    mailhost_server_factory: Factory, caplog: pytest.LogCaptureFixture,
) -> None:
    server = start(mailhost_server_factory, plugins=[("brokenlists", BrokenInLists())],
                   rules=[TRASH_30D, {"folder": "Lists/*", "max_age": "1d"}])
    fill(server, ALICE, "Lists/a", 1)
    fill(server, ALICE, "Trash", 1, "\\Trash")
    backdate(server, ALICE, "Lists/a", [1], 40)
    backdate(server, ALICE, "Trash", [1], 40)
    with caplog.at_level(logging.WARNING):
        result = run_sweep(server)[ALICE]
    assert {f.mailbox: (f.expunged, f.kept) for f in result.folders} == {
        "Lists/a": ([], [1]), "Trash": ([1], [])}
    assert not result.failed
    assert server.mailbox_uids(ALICE, "Lists/a") == [1]
    assert any("brokenlists" in r.getMessage() for r in caplog.records)


# -- failures in one account or folder --------------------------------------------------------


def test_broken_overrides_skip_that_user_only(
    mailhost_server_factory: Factory, caplog: pytest.LogCaptureFixture,
) -> None:
    server = start(mailhost_server_factory, users=(ALICE, BOB))
    for user in (ALICE, BOB):
        fill(server, user, "Trash", 1, "\\Trash")
        backdate(server, user, "Trash", [1], 40)
    set_user(server, ALICE, "rules", [{"special_use": "\\Trash", "max_age": "soon"}])
    with caplog.at_level(logging.ERROR, logger="mailhost.retention"):
        results = run_sweep(server)
    assert results[ALICE].failed and "rules[0].max_age" in (results[ALICE].error or "")
    assert server.mailbox_uids(ALICE, "Trash") == [1]  # not swept with the wrong rules
    assert server.mailbox_uids(BOB, "Trash") == []
    assert any(ALICE in r.getMessage() for r in caplog.records)


def test_store_error_in_one_folder_is_reported_and_others_swept(
    mailhost_server_factory: Factory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start(mailhost_server_factory, rules=[{"folder": "*", "max_age": "1d"}])
    for box in ("A", "B", "C"):
        fill(server, ALICE, box, 1)
        backdate(server, ALICE, box, [1], 2)
    broken = server.with_mail(ALICE, lambda mail: mail.get_mailbox("B"))
    assert broken is not None
    real_messages = SqliteMailStore.messages

    async def failing(self: SqliteMailStore, mailbox_id: int) -> list[MessageMeta]:
        if mailbox_id == broken.id:
            raise OSError("disk I/O error")
        return await real_messages(self, mailbox_id)

    monkeypatch.setattr(SqliteMailStore, "messages", failing)
    result = run_sweep(server)[ALICE]
    assert result.failed
    errors = {f.mailbox: f.error for f in result.folders}
    assert errors["A"] is None and errors["C"] is None and "disk I/O" in (errors["B"] or "")
    assert server.mailbox_uids(ALICE, "A") == [] and server.mailbox_uids(ALICE, "C") == []
    monkeypatch.undo()
    assert server.mailbox_uids(ALICE, "B") == [1]


def test_sweep_does_not_create_databases_for_unused_accounts(
    mailhost_server_factory: Factory, caplog: pytest.LogCaptureFixture,
) -> None:
    server = start(mailhost_server_factory, users=(ALICE, BOB))
    fill(server, ALICE, "Trash", 1, "\\Trash")
    backdate(server, ALICE, "Trash", [1], 40)
    assert server.app is not None
    app = server.app
    bob = server.run(app.store.directory.get_user(BOB))
    assert bob is not None and not app.store.account_path(bob.id).exists()
    with caplog.at_level(logging.INFO, logger="mailhost.retention"):
        results = run_sweep(server)
        log_results(list(results.values()))
    assert results[BOB].folders == [] and not results[BOB].failed
    assert not app.store.account_path(bob.id).exists()
    assert server.mailbox_uids(ALICE, "Trash") == []
    messages = [r.getMessage() for r in caplog.records]
    assert f"retention: expunged 1 from {ALICE}/Trash (rule \\Trash): uids 1" in messages
    assert "retention: sweep done: 1 messages expunged, 0 of 2 accounts with errors" in messages
