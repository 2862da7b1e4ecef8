"""The delivery pipeline without sockets: recipients, plugin decisions and error mapping."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mailhost.app import App
from mailhost.auth.passwords import hash_password
from mailhost.config import parse_config
from mailhost.decisions import Defer, Deliver, DeliveryDecision, Discard, Reject
from mailhost.delivery import replies
from mailhost.delivery.pipeline import (
    Transaction,
    deliver_all,
    deliver_each,
    finish_even_if_cancelled,
    store_error_reply,
)
from mailhost.delivery.recipients import (
    Recipient,
    check_recipient,
    envelope_address,
    from_addresses,
    may_send_as,
)
from mailhost.delivery.trace import TraceInfo
from mailhost.hookspecs import hookimpl
from mailhost.store.interface import (
    MailboxInfo,
    MessageRef,
    OverQuota,
    StorageFull,
    TemporaryStoreError,
)
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.store.sqlite.store import NoSuchAccount
from mailhost.testing.server import cap_at_current_size, lift_page_cap

ALICE, BOB = "alice@example.test", "bob@example.test"
CONTENT = b"From: someone@remote.test\r\nSubject: hello\r\n\r\nHi there.\r\n"
HASH = hash_password("pw")


class Policy:
    """A test plugin: per-account decisions, and a record of stored notifications."""

    def __init__(self) -> None:
        self.decisions: dict[str, DeliveryDecision | Exception] = {}
        self.stored: list[tuple[MessageRef, str]] = []
        self.seen: list[tuple[str, str, str, bytes, str]] = []

    @hookimpl
    def mailhost_delivery_decide(self, app: App, recipient: str, address: str, sender: str,
                                 message: bytes, protocol: str) -> DeliveryDecision | None:
        self.seen.append((recipient, address, sender, message, protocol))
        decision = self.decisions.get(recipient)
        if isinstance(decision, Exception):
            raise decision
        return decision

    @hookimpl
    def mailhost_message_stored(self, app: App, ref: MessageRef, protocol: str) -> None:
        self.stored.append((ref, protocol))


@pytest.fixture
def policy() -> Policy:
    return Policy()


async def make_app(tmp_path: Path, policy: Policy, **sections: dict[str, Any]) -> App:
    data = {"storage": {"data_dir": str(tmp_path / "data")},
            "server": {"hostname": "mail.example.test"}, "listener": [], **sections}
    app = await App.create(parse_config(data, "<test>"), [("policy", policy)])
    await app.store.directory.add_user(ALICE, HASH)
    await app.store.directory.add_user(BOB, HASH)
    await app.store.directory.add_alias("info@example.test", ALICE)
    return app


@pytest.fixture
async def app(tmp_path: Path, policy: Policy) -> AsyncIterator[App]:
    app = await make_app(tmp_path, policy)
    yield app
    await app.close()


def txn(*recipients: Recipient, protocol: str = "lmtp", sender: str = "s@remote.test") -> \
        Transaction:
    trace = TraceInfo(hostname="mail.example.test", protocol=protocol, queue_id="Q1",
                      helo="client.remote.test", peer_ip="192.0.2.1")
    return Transaction(trace, sender, recipients)


async def messages(app: App, account: str, folder: str = "INBOX") -> list[bytes]:
    async with app.store.account(account) as mail:
        box = await mail.get_mailbox(folder)
        if box is None:
            return []
        return [await mail.read_raw(box.id, m.uid) or b"" for m in await mail.messages(box.id)]


# -- recipients and senders ---------------------------------------------------------------


async def test_recipients_local_alias_unknown_and_foreign(app: App) -> None:
    assert await check_recipient(app, ALICE, may_relay=False) == Recipient(ALICE, ALICE)
    assert await check_recipient(app, "Info@Example.TEST", may_relay=False) == \
        Recipient("Info@Example.TEST", ALICE)
    assert await check_recipient(app, "nobody@example.test", may_relay=False) == \
        replies.USER_UNKNOWN
    assert await check_recipient(app, "x@remote.test", may_relay=False) == replies.RELAY_DENIED
    assert await check_recipient(app, "x@remote.test", may_relay=True) == \
        replies.RELAY_NOT_CONFIGURED
    assert await check_recipient(app, "no-at-sign", may_relay=False) == replies.BAD_RECIPIENT
    assert await check_recipient(app, "x@[192.0.2.1]", may_relay=True) == replies.BAD_RECIPIENT


async def test_subaddress_reaches_the_account_and_the_hook_sees_the_tag(
        app: App, policy: Policy) -> None:
    tagged = await check_recipient(app, "alice+lists@example.test", may_relay=False)
    assert tagged == Recipient("alice+lists@example.test", ALICE)
    assert await deliver_each(app, txn(tagged), CONTENT) == [replies.DELIVERED]
    assert policy.seen[0][:2] == (ALICE, "alice+lists@example.test")
    [stored] = await messages(app, ALICE)
    assert b"\tfor <alice+lists@example.test>; " in stored


async def test_postmaster_without_domain_means_our_hostname(app: App) -> None:
    unknown = await check_recipient(app, "postmaster", may_relay=False)
    assert isinstance(unknown, replies.Reply) and unknown.permanent
    await app.store.directory.add_alias("postmaster@mail.example.test", BOB)
    assert await check_recipient(app, "Postmaster", may_relay=False) == \
        Recipient("postmaster@mail.example.test", BOB)


async def test_remote_recipient_accepted_only_with_a_smarthost(tmp_path: Path,
                                                              policy: Policy) -> None:
    app = await make_app(tmp_path, policy, relay={"host": "127.0.0.1", "port": 2525})
    try:
        assert await check_recipient(app, "x@remote.test", may_relay=True) == \
            Recipient("x@remote.test", None)
        assert await check_recipient(app, "x@remote.test", may_relay=False) == \
            replies.RELAY_DENIED
    finally:
        await app.close()


def test_envelope_address_rejects_controls_and_giants() -> None:
    assert envelope_address("<>") == ""
    assert envelope_address("a@example.test") == "a@example.test"
    assert envelope_address("a\rb@example.test") is None
    assert envelope_address("a\x00b@example.test") is None
    assert envelope_address("a" * 10_000 + "@example.test") is None
    assert envelope_address("") is None


async def test_may_send_as_own_address_and_aliases_only(app: App) -> None:
    assert await may_send_as(app, ALICE, "Alice@Example.test")
    assert await may_send_as(app, ALICE, "info@example.test")
    assert not await may_send_as(app, ALICE, BOB)
    assert not await may_send_as(app, BOB, "info@example.test")
    assert not await may_send_as(app, ALICE, "not an address")


def test_from_addresses() -> None:
    raw = b"From: Alice <alice@example.test>, bob@example.test\r\nSubject: x\r\n\r\nFrom: no\r\n"
    assert from_addresses(raw) == ["alice@example.test", "bob@example.test"]
    assert from_addresses(b"Subject: none\r\n\r\nbody\r\n") == []


# -- decisions ----------------------------------------------------------------------------


async def test_default_delivers_to_inbox_with_trace_headers(app: App, policy: Policy) -> None:
    result = await deliver_each(app, txn(Recipient(ALICE, ALICE)), CONTENT)
    assert result == [replies.DELIVERED]
    [stored] = await messages(app, ALICE)
    head, _, rest = stored.partition(b"\r\nReceived: from client.remote.test ([192.0.2.1])\r\n")
    assert head == b"Return-Path: <s@remote.test>"
    assert rest.endswith(b"\r\n" + CONTENT)
    assert b"by mail.example.test (mailhost) with LMTP id Q1\r\n\tfor <alice@example.test>" \
        in rest
    [(ref, protocol)] = policy.stored
    assert (ref.account, ref.mailbox, ref.uid, protocol) == (ALICE, "INBOX", 1, "lmtp")
    recipient, address, sender, message, hook_protocol = policy.seen[0]
    assert (recipient, address, sender, hook_protocol) == (ALICE, ALICE, "s@remote.test", "lmtp")
    assert message.endswith(CONTENT) and message.startswith(b"Return-Path: ")


async def test_plugin_folder_is_created_and_flags_set(app: App, policy: Policy) -> None:
    policy.decisions[ALICE] = Deliver("Lists/python", ("\\Seen", "$Label1"))
    assert await deliver_each(app, txn(Recipient(ALICE, ALICE)), CONTENT) == [replies.DELIVERED]
    async with app.store.account(ALICE) as mail:
        box = await mail.get_mailbox("Lists/python")
        assert box is not None
        [meta] = await mail.messages(box.id)
        assert set(meta.flags) == {"\\Seen", "$Label1"}
    assert policy.stored[0][0].mailbox == "Lists/python"


async def test_each_recipient_gets_its_own_outcome(app: App, policy: Policy) -> None:
    policy.decisions[ALICE] = Reject("no thanks")
    policy.decisions[BOB] = Defer("busy")
    carol = "carol@example.test"
    await app.store.directory.add_user(carol, HASH)
    policy.decisions[carol] = Discard()
    result = await deliver_each(
        app, txn(Recipient(ALICE, ALICE), Recipient(BOB, BOB), Recipient(carol, carol)), CONTENT,
    )
    assert result == [replies.Reply(550, "5.7.1", "no thanks"),
                      replies.Reply(451, "4.7.1", "busy"), replies.DISCARDED]
    assert await messages(app, ALICE) == await messages(app, BOB) == \
        await messages(app, carol) == []
    assert policy.stored == []


async def test_broken_plugin_is_a_temporary_failure(app: App, policy: Policy) -> None:
    policy.decisions[ALICE] = RuntimeError("plugin bug")
    assert await deliver_each(app, txn(Recipient(ALICE, ALICE)), CONTENT) == \
        [replies.PLUGIN_FAILED]
    assert str(replies.PLUGIN_FAILED).startswith("451 4.3.0 ")


async def test_invalid_folder_from_a_plugin_is_temporary(app: App, policy: Policy) -> None:
    policy.decisions[ALICE] = Deliver("../escape")
    assert await deliver_each(app, txn(Recipient(ALICE, ALICE)), CONTENT) == \
        [replies.LOCAL_ERROR]


async def test_alias_and_target_in_one_message_store_one_copy(app: App, policy: Policy) -> None:
    rcpts = (Recipient("info@example.test", ALICE), Recipient(ALICE, ALICE))
    assert await deliver_each(app, txn(*rcpts), CONTENT) == [replies.DELIVERED] * 2
    assert len(await messages(app, ALICE)) == 1
    assert await deliver_all(app, txn(*rcpts, protocol="smtp"), CONTENT) == replies.DELIVERED
    assert len(await messages(app, ALICE)) == 2


async def test_smtp_refusal_for_one_recipient_stores_nothing(app: App, policy: Policy) -> None:
    policy.decisions[BOB] = Reject("not for bob")
    reply = await deliver_all(
        app, txn(Recipient(ALICE, ALICE), Recipient(BOB, BOB), protocol="smtp"), CONTENT,
    )
    assert reply == replies.Reply(550, "5.7.1", "not for bob")
    assert await messages(app, ALICE) == []


async def test_remote_recipients_without_a_relay_function_are_not_acknowledged(
        app: App) -> None:
    reply = await deliver_all(app, txn(Recipient("x@remote.test", None), protocol="submission"),
                              CONTENT)
    assert not reply.ok


async def test_relay_failure_stores_no_local_copy(app: App) -> None:
    sent: list[tuple[list[str], bytes]] = []

    async def refusing(recipients: Any, message: bytes) -> replies.Reply:
        sent.append(([r.address for r in recipients], message))
        return replies.Reply(451, "4.4.1", "smarthost down")

    both = txn(Recipient(ALICE, ALICE), Recipient("x@remote.test", None), protocol="submission")
    assert await deliver_all(app, both, CONTENT, relay=refusing) == \
        replies.Reply(451, "4.4.1", "smarthost down")
    assert await messages(app, ALICE) == []
    [(addresses, relayed)] = sent
    assert addresses == ["x@remote.test"]
    assert relayed.startswith(b"Received: ") and b"Return-Path" not in relayed
    assert b"for <x@remote.test>" in relayed and relayed.endswith(CONTENT)


# -- store failures -----------------------------------------------------------------------


def test_store_error_mapping() -> None:
    assert store_error_reply(OverQuota("full")) == replies.Reply(452, "4.2.2",
                                                                  replies.OVER_QUOTA.text)
    assert str(store_error_reply(StorageFull("disk"))).startswith("452 4.3.1 ")
    assert str(store_error_reply(TemporaryStoreError("commit"))).startswith("451 4.3.0 ")
    assert store_error_reply(NoSuchAccount("gone")) == replies.USER_UNKNOWN
    assert store_error_reply(RuntimeError("bug")).temporary


async def test_over_quota_is_452_4_2_2(app: App) -> None:
    await app.store.directory.set_quota(ALICE, 100, 0)
    assert await deliver_each(app, txn(Recipient(ALICE, ALICE)), CONTENT) == [replies.OVER_QUOTA]
    assert str(replies.OVER_QUOTA).startswith("452 4.2.2 ")


async def test_full_disk_is_452_4_3_1_and_delivery_resumes(app: App) -> None:
    big = CONTENT + b"more text\r\n" * 3000  # needs new pages, not just room in old ones
    async with app.store.account(ALICE) as mail:  # held open: the pipeline shares it
        old_limit = await cap_at_current_size(mail)
        assert await deliver_each(app, txn(Recipient(ALICE, ALICE)), big) == \
            [replies.STORAGE_FULL]
        await lift_page_cap(mail, old_limit)
        assert await deliver_each(app, txn(Recipient(ALICE, ALICE)), big) == \
            [replies.DELIVERED]
    assert len(await messages(app, ALICE)) == 1


async def test_deleted_account_between_rcpt_and_data(app: App) -> None:
    await app.store.directory.delete_user(BOB)
    assert await deliver_each(app, txn(Recipient(BOB, BOB)), CONTENT) == [replies.USER_UNKNOWN]


def test_transaction_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        txn().sender = "x"  # type: ignore[misc]


# -- a client hanging up mid-delivery ---------------------------------------------------------


async def test_finish_even_if_cancelled_passes_results_and_errors_through() -> None:
    async def answer() -> str:
        await asyncio.sleep(0)
        return "250"

    async def broken() -> str:
        await asyncio.sleep(0)
        raise RuntimeError("bug")

    assert await finish_even_if_cancelled(answer()) == "250"
    with pytest.raises(RuntimeError, match="bug"):
        await finish_even_if_cancelled(broken())


async def test_a_cancelled_caller_waits_for_the_delivery_then_is_cancelled() -> None:
    release = asyncio.Event()
    steps: list[str] = []

    async def delivery() -> str:
        steps.append("started")
        await release.wait()
        steps.append("finished")
        return "250"

    caller = asyncio.ensure_future(finish_even_if_cancelled(delivery()))
    await asyncio.sleep(0.01)
    caller.cancel()
    await asyncio.sleep(0.01)
    assert not caller.done() and steps == ["started"]  # still waiting for the delivery
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps == ["started", "finished"]


async def test_a_delivery_cancelled_itself_cancels_its_caller() -> None:
    started = asyncio.Event()

    async def delivery() -> str:
        started.set()
        await asyncio.sleep(10)
        return "250"

    caller = asyncio.ensure_future(finish_even_if_cancelled(delivery()))
    await started.wait()
    [inner] = [t for t in asyncio.all_tasks() if t is not caller
               and t is not asyncio.current_task()]
    inner.cancel()  # as at shutdown
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(caller, 5)


async def test_hanging_up_during_the_commit_stores_once_and_reports_it(
        app: App, policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    in_commit, go_on = asyncio.Event(), threading.Event()
    loop = asyncio.get_running_loop()
    insert = SqliteMailStore._insert_rows

    def slow_insert(self: SqliteMailStore, *args: Any) -> tuple[MailboxInfo, Any]:
        loop.call_soon_threadsafe(in_commit.set)
        assert go_on.wait(10)
        return insert(self, *args)

    monkeypatch.setattr(SqliteMailStore, "_insert_rows", slow_insert)
    caller = asyncio.ensure_future(finish_even_if_cancelled(
        deliver_each(app, txn(Recipient(ALICE, ALICE)), CONTENT)))
    await asyncio.wait_for(in_commit.wait(), 10)
    caller.cancel()  # the client hung up while its message is being stored
    await asyncio.sleep(0.01)
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(caller, 10)
    monkeypatch.setattr(SqliteMailStore, "_insert_rows", insert)
    assert len(await messages(app, ALICE)) == 1
    [(ref, _protocol)] = policy.stored  # the pipeline saw it stored, and told the plugins
    assert (ref.mailbox, ref.uid) == ("INBOX", 1)
