"""Account databases on shared threads: group commit, connections released when quiet."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mailhost.auth.passwords import hash_password
from mailhost.store.interface import InvalidMailboxName, MailboxNotFound, OverQuota
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.store.sqlite.pool import DatabasePool
from mailhost.store.sqlite.store import SqliteStore
from tests.unit.test_store_counters import USER, assert_consistent, message, open_store


async def test_concurrent_appends_share_commits_and_fail_alone(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await store.directory.set_quota(USER, 20_000, 0)
        async with store.account(USER) as mail:
            generation = mail.generation
            raws = [message(n) for n in range(20)]
            raws[12] = message(12, 2000)  # alone over the quota
            calls = [mail.append("Nowhere" if n == 7 else "INBOX", raw)
                     for n, raw in enumerate(raws)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert isinstance(results[7], MailboxNotFound)
            assert isinstance(results[12], OverQuota)
            stored = [r for n, r in enumerate(results) if n not in (7, 12)]
            uids = [meta.uid for _info, meta in stored]  # type: ignore[union-attr]
            assert uids == list(range(1, 19))  # in the order the calls were made
            assert mail.generation - generation < 18  # fewer commits than messages
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None and inbox.messages == 18 and inbox.uidnext == 19
            last_info, _ = stored[-1]  # type: ignore[misc]
            assert last_info.messages == 18  # each result tells the mailbox after its message
            bodies = await mail.run(
                lambda conn: conn.execute("SELECT COUNT(*) FROM body").fetchone()[0])
            assert bodies == 18  # nothing half-stored from the failed ones
            await mail.run(assert_consistent)
            assert [m.uid for m in await mail.messages(inbox.id)] == uids
    finally:
        await store.close()


async def test_a_group_commit_stores_all_its_messages_with_one_insert(tmp_path: Path) -> None:
    """Schema step 6: one statement per group, for any number of messages and mailboxes."""
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            await mail.create_mailbox("Lists")
            statements: list[str] = []
            await mail.run(lambda conn: conn.set_trace_callback(statements.append))
            results = await asyncio.gather(*(
                mail.append("Lists" if n % 3 == 0 else "INBOX", message(n)) for n in range(12)))
            await mail.run(lambda conn: conn.set_trace_callback(None))
            # SQLite reports the statement again for each step of its trigger: count distinct.
            inserts = {s for s in statements if s.startswith("INSERT INTO message_insert")}
            assert len(inserts) < 12  # grouped
            # Each group is one INSERT: inside its own transaction, or alone in autocommit
            # mode when planned from the rows the previous group left (schema step 7).
            spans = "\0".join(statements).split("BEGIN IMMEDIATE")[1:]
            assert all(len({s for s in span.split("\0") if s.startswith("INSERT INTO")}) == 1
                       for span in (whole.split("COMMIT")[0] for whole in spans))
            assert statements.count("COMMIT") == len(spans) <= len(inserts)
            assert not [s for s in statements if s.startswith("SAVEPOINT")]
            lists = [meta.uid for info, meta in results if info.name == "Lists"]
            inbox = [meta.uid for info, meta in results if info.name == "INBOX"]
            assert lists == [1, 2, 3, 4] and inbox == list(range(1, 9))
            last_lists = [info for info, _meta in results if info.name == "Lists"][-1]
            assert (last_lists.messages, last_lists.uidnext) == (4, 5)
            assert last_lists == await mail.get_mailbox("Lists")
            await mail.run(assert_consistent)
            for info, meta in results:
                raw = await mail.read_raw(info.id, meta.uid)
                assert raw is not None and len(raw) == meta.size
    finally:
        await store.close()


async def test_a_group_larger_than_one_insert_is_stored_in_several(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailhost.store.sqlite.mailstore.INSERT_ROWS", 3)
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            results = await asyncio.gather(*(mail.append("INBOX", message(n))
                                             for n in range(14)))
            assert [meta.uid for _info, meta in results] == list(range(1, 15))
            await mail.run(assert_consistent)
            for n, (info, meta) in enumerate(results):
                assert await mail.read_raw(info.id, meta.uid) == message(n)
    finally:
        await store.close()


async def test_appends_queued_behind_a_running_transaction_are_analysed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The MIME analysis of an append that must wait runs while the account is busy, and it
    still fails alone and is stored in the order of the calls."""
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            release = threading.Event()
            analysed_while_busy: list[bool] = []
            real_prepare = SqliteMailStore._prepare

            def spy(item: Any) -> Any:
                analysed_while_busy.append(not release.is_set())
                return real_prepare(item)

            monkeypatch.setattr(SqliteMailStore, "_prepare", staticmethod(spy))
            busy = asyncio.ensure_future(mail.run(lambda conn: release.wait(10)))
            await asyncio.sleep(0)  # the account's connection is now in use
            calls = [asyncio.ensure_future(mail.append("a/../b" if n == 2 else "INBOX",
                                                       message(n))) for n in range(5)]
            for _ in range(500):
                if len(analysed_while_busy) == len(calls):
                    break
                await asyncio.sleep(0.01)
            release.set()
            results = await asyncio.gather(*calls, return_exceptions=True)
            await busy
            assert analysed_while_busy == [True] * len(calls)
            assert isinstance(results[2], InvalidMailboxName)
            uids = [r[1].uid for n, r in enumerate(results) if n != 2]  # type: ignore[index]
            assert uids == [1, 2, 3, 4]
            await mail.run(assert_consistent)
    finally:
        await store.close()


async def test_quiet_account_closes_its_connection_and_reopens(tmp_path: Path) -> None:
    store = await open_store(tmp_path, idle_seconds=0.05)
    try:
        async with store.account(USER) as mail:
            await mail.append("INBOX", message(1))
            assert store.pool.open_connections == 1
            for _ in range(100):
                if store.pool.open_connections == 0:
                    break
                await asyncio.sleep(0.05)
            assert store.pool.open_connections == 0  # a session in IDLE holds none
            inbox = await mail.get_mailbox("INBOX")  # reopened on use
            assert inbox is not None and inbox.messages == 1
            # An in-process commit still wakes a waiter at once.
            waiter = asyncio.ensure_future(mail.wait_for_change(mail.generation, 10))
            await asyncio.sleep(0)
            await mail.append("INBOX", message(2))
            assert await asyncio.wait_for(waiter, 5)
    finally:
        await store.close()


async def test_commit_by_another_process_wakes_a_waiter_without_a_connection(
    tmp_path: Path,
) -> None:
    store = await open_store(tmp_path, idle_seconds=0.05)
    try:
        async with store.account(USER) as mail:
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None
            await asyncio.sleep(0.3)
            assert store.pool.open_connections == 0
            waiter = asyncio.ensure_future(mail.wait_for_change(mail.generation, 10))
            await asyncio.sleep(0.1)
            assert mail.path is not None
            other = sqlite3.connect(mail.path, isolation_level=None)  # another process's view
            other.execute("DELETE FROM subscription WHERE name = ?", (inbox.name,))
            other.close()
            assert await asyncio.wait_for(waiter, 5)
    finally:
        await store.close()


@pytest.mark.parametrize("accounts", [4])
async def test_open_connections_are_capped(tmp_path: Path, accounts: int) -> None:
    store = await SqliteStore.open(tmp_path, DatabasePool(max_open=2, idle_seconds=60))
    try:
        users = [f"u{n}@example.test" for n in range(accounts)]
        for user in users:
            await store.directory.add_user(user, hash_password("pw"))
        for user in users:
            async with store.account(user) as mail:
                await mail.append("INBOX", message(1))
        for _ in range(100):
            if store.pool.open_connections <= 2:
                break
            await asyncio.sleep(0.02)
        assert store.pool.open_connections <= 2
        async with store.account(users[0]) as mail:
            assert (await mail.usage())[1] == 1
    finally:
        await store.close()


async def test_a_cancelled_caller_does_not_let_the_next_one_in_early(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            started = asyncio.Event()
            loop = asyncio.get_running_loop()
            order: list[str] = []

            def slow(conn: sqlite3.Connection) -> None:
                loop.call_soon_threadsafe(started.set)
                conn.execute("SELECT 1")
                time.sleep(0.2)
                order.append("slow")

            task = asyncio.ensure_future(mail.run(slow))
            await started.wait()
            task.cancel()
            await mail.run(lambda conn: order.append("next"))
            assert order == ["slow", "next"]
    finally:
        await store.close()


async def test_an_append_cancelled_during_its_commit_is_stored_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            in_commit, go_on = asyncio.Event(), threading.Event()
            loop = asyncio.get_running_loop()
            insert = SqliteMailStore._insert_rows

            def slow_insert(self: SqliteMailStore, *args: Any) -> Any:
                loop.call_soon_threadsafe(in_commit.set)
                assert go_on.wait(10)
                return insert(self, *args)

            monkeypatch.setattr(SqliteMailStore, "_insert_rows", slow_insert)
            generation = mail.generation
            first = asyncio.ensure_future(mail.append("INBOX", message(1)))
            await asyncio.wait_for(in_commit.wait(), 10)
            queued = asyncio.ensure_future(mail.append("INBOX", message(2)))
            await asyncio.sleep(0.01)
            first.cancel()
            queued.cancel()  # waiting for the lock: never stored
            go_on.set()
            for task in (first, queued):
                with pytest.raises(asyncio.CancelledError):
                    await asyncio.wait_for(task, 10)
            monkeypatch.setattr(SqliteMailStore, "_insert_rows", insert)
            _info, meta = await mail.append("INBOX", message(3))
            assert meta.uid == 2  # the cancelled one's message took UID 1, and only it
            assert mail.generation - generation == 2  # both commits announced
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None and inbox.messages == 2
            await mail.run(assert_consistent)
    finally:
        await store.close()


async def test_limits_read_on_entry_serve_that_moment_and_are_read_again_later(
        tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await store.directory.set_quota(USER, 0, 2)
        async with store.account(USER) as mail:
            source = mail.quota_source
            assert source is not None
            lookups = 0

            async def counted() -> tuple[int, int]:
                nonlocal lookups
                lookups += 1
                return await source()

            mail.quota_source = counted
            await mail.append("INBOX", message(1))  # entered just now: no second lookup
            assert lookups == 0
            await asyncio.sleep(0)
            await store.directory.set_quota(USER, 0, 1)  # an admin, while the session stays
            with pytest.raises(OverQuota):
                await mail.append("INBOX", message(2))
            assert lookups == 1
        async with store.account(USER) as mail:  # a delivery: the new limit, read on entry
            with pytest.raises(OverQuota):
                await mail.append("INBOX", message(3))
    finally:
        await store.close()


async def test_closing_the_quiet_connection_does_not_wake_idle_sessions(tmp_path: Path) -> None:
    store = await open_store(tmp_path, idle_seconds=0.2)
    try:
        async with store.account(USER) as mail:
            await mail.append("INBOX", message(1))  # a WAL with frames: closing checkpoints it
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None
            wakes = 0
            generation = mail.generation
            deadline = asyncio.get_running_loop().time() + 4
            while asyncio.get_running_loop().time() < deadline:
                if await mail.wait_for_change(generation, 0.5):
                    wakes += 1
                    generation = mail.generation
                    await mail.mailbox_version(inbox.id)  # what a woken session reads
            assert wakes <= 3  # the checkpoint on closing (and a second look); no cycle
    finally:
        await store.close()


async def test_a_full_disk_fails_the_whole_group_with_a_retry_later(tmp_path: Path) -> None:
    from mailhost.store.interface import TemporaryStoreError
    from mailhost.testing.server import cap_at_current_size, lift_page_cap

    store = await open_store(tmp_path, idle_seconds=0.05)
    try:
        async with store.account(USER) as mail:
            await mail.append("INBOX", message(0))
            old = await cap_at_current_size(mail)
            await asyncio.sleep(0.3)  # the cap must outlive the connection it was set on
            results = await asyncio.gather(
                *(mail.append("INBOX", message(n, 3000)) for n in range(5)),
                return_exceptions=True)
            assert all(isinstance(r, TemporaryStoreError) for r in results)
            await mail.run(assert_consistent)
            assert (await mail.usage())[1] == 1
            await lift_page_cap(mail, old)
            _info, meta = await mail.append("INBOX", message(9, 3000))
            assert meta.uid == 2
            await mail.run(assert_consistent)
    finally:
        await store.close()


async def test_appends_arriving_during_a_commit_follow_it_in_the_same_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream of appends: later group commits run back to back on the database thread
    (fewer jobs than transactions), in the order of the calls."""
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            await mail.append("INBOX", message(0))
            batches: list[int] = []
            jobs: list[object] = []
            real_batch, real_submit = mail._store_batch, mail._submit

            def slow_batch(batch: list[Any], conn: sqlite3.Connection) -> Any:
                time.sleep(0.004)  # appends pile up meanwhile
                batches.append(len(batch))
                return real_batch(batch, conn)

            def counting_submit(fn: Any, then: Any) -> None:
                jobs.append(fn)
                real_submit(fn, then)

            monkeypatch.setattr(mail, "_store_batch", slow_batch)
            monkeypatch.setattr(mail, "_submit", counting_submit)
            calls = []
            for n in range(1, 41):
                calls.append(asyncio.ensure_future(mail.append("INBOX", message(n))))
                await asyncio.sleep(0.001)
            results = await asyncio.gather(*calls)
            assert [meta.uid for _info, meta in results] == list(range(2, 42))
            assert sum(batches) == 40 and len(batches) > 2
            assert len(jobs) < len(batches)
            await mail.run(assert_consistent)
    finally:
        await store.close()


async def test_a_read_waits_for_a_few_commits_of_a_stream_of_appends_at_most(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailhost.store.sqlite import mailstore

    monkeypatch.setattr(mailstore, "CHAIN_BATCHES", 2)
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None
            real_batch = mail._store_batch

            def slow_batch(batch: list[Any], conn: sqlite3.Connection) -> Any:
                time.sleep(0.004)
                return real_batch(batch, conn)

            monkeypatch.setattr(mail, "_store_batch", slow_batch)
            finished: list[str] = []
            calls = []
            read: asyncio.Future[Any] | None = None
            for n in range(40):
                call = asyncio.ensure_future(mail.append("INBOX", message(n)))
                call.add_done_callback(lambda _f, n=n: finished.append(f"append {n}"))
                calls.append(call)
                if n == 10:
                    read = asyncio.ensure_future(mail.messages(inbox.id))
                    read.add_done_callback(lambda _f: finished.append("read"))
                await asyncio.sleep(0.001)
            await asyncio.gather(*calls)
            assert read is not None
            seen = await read
            assert "read" in finished and finished.index("read") < finished.index("append 39")
            assert [meta.uid for meta in seen] == list(range(1, len(seen) + 1))
            await mail.run(assert_consistent)
    finally:
        await store.close()
