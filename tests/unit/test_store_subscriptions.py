"""Subscriptions are names kept apart from mailboxes (schema step 5, RFC 3501 §6.3.6/§6.3.9,
RFC 9051 §6.3.7): they outlive DELETE, may name no mailbox, and follow RENAME."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailhost.store.sqlite.db import connect
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.store.sqlite.schema import ACCOUNT_MIGRATIONS
from tests.unit.test_store_counters import USER, old_account_file, open_store, query_plan


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[SqliteMailStore]:
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as account:
            assert isinstance(account, SqliteMailStore)
            yield account
    finally:
        await store.close()


async def subscribed_flags(mail: SqliteMailStore) -> dict[str, bool]:
    return {box.name: box.subscribed for box in await mail.list_mailboxes()}


def test_migration_5_copies_the_subscribed_column(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite"
    conn = old_account_file(path, 4, "(name, uidvalidity, subscribed, created_at) VALUES "
                            "('INBOX', 1, 1, 0), ('Sent', 2, 1, 0), ('Old', 3, 0, 0)")
    conn.close()
    conn = connect(path, ACCOUNT_MIGRATIONS)
    try:
        assert [r[0] for r in conn.execute("SELECT name FROM subscription ORDER BY name")] == \
            ["INBOX", "Sent"]
        plan = query_plan(conn, SqliteMailStore._MAILBOX_SQL + "WHERE name = 'Old'")
        assert "subscription USING PRIMARY KEY" in plan
    finally:
        conn.close()


async def test_migrated_file_reports_subscribed_from_the_table(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            await mail.create_mailbox("Old")
            assert isinstance(mail, SqliteMailStore)
            # A file written before step 5 may still say subscribed = 1: it is not read.
            await mail.run(lambda c: c.execute("UPDATE mailbox SET subscribed = 1"))
            assert await subscribed_flags(mail) == {"INBOX": True, "Old": False}
    finally:
        await store.close()


async def test_delete_keeps_the_subscription_and_recreate_shows_it(
    mail: SqliteMailStore,
) -> None:
    await mail.create_mailbox("Lists")
    await mail.set_subscribed("Lists", True)
    await mail.delete_mailbox("Lists")
    assert await mail.list_subscriptions() == ["INBOX", "Lists"]
    info = await mail.create_mailbox("Lists")
    assert info.subscribed
    info, _meta = await mail.append("Lists", b"Subject: x\r\n\r\nbody\r\n")
    assert info.subscribed  # the row _plan builds on every append


async def test_create_subscribed_writes_the_table(mail: SqliteMailStore) -> None:
    info = await mail.create_mailbox("Sent", "\\Sent", subscribed=True)
    assert info.subscribed
    assert await mail.list_subscriptions() == ["INBOX", "Sent"]


async def test_subscribe_and_unsubscribe_a_name_with_no_mailbox(mail: SqliteMailStore) -> None:
    await mail.set_subscribed("Nowhere/yet", True)
    await mail.set_subscribed("Nowhere/yet", True)  # twice is still once
    assert await mail.list_subscriptions() == ["INBOX", "Nowhere/yet"]
    assert await mail.get_mailbox("Nowhere/yet") is None
    await mail.set_subscribed("Nowhere/yet", False)
    await mail.set_subscribed("Never", False)  # not subscribed: nothing to do, no error
    assert await mail.list_subscriptions() == ["INBOX"]


async def test_rename_moves_subscriptions_of_the_mailbox_and_its_children(
    mail: SqliteMailStore,
) -> None:
    for name in ("Work", "Work/2023", "Work/2024", "Workshop"):
        await mail.create_mailbox(name)
    for name in ("Work", "Work/2023", "Workshop", "Work/gone"):
        await mail.set_subscribed(name, True)
    await mail.rename_mailbox("Work", "Job")
    assert await mail.list_subscriptions() == [
        "INBOX", "Job", "Job/2023", "Job/gone", "Workshop"]
    assert await subscribed_flags(mail) == {
        "INBOX": True, "Job": True, "Job/2023": True, "Job/2024": False, "Workshop": True}


async def test_rename_inbox_keeps_its_subscription_and_the_new_box_is_unsubscribed(
    mail: SqliteMailStore,
) -> None:
    await mail.rename_mailbox("INBOX", "Saved")
    assert await mail.list_subscriptions() == ["INBOX"]
    assert await subscribed_flags(mail) == {"INBOX": True, "Saved": False}
