"""The delivery pipeline every way in shares: SMTP, LMTP, submission and ``mailhost deliver``.

For each local recipient: ask the ``mailhost_delivery_decide`` hook, add the trace headers,
append to the store (creating the folder a plugin named), notify ``mailhost_message_stored``,
and turn whatever went wrong into an SMTP reply. A success reply is only ever produced after
``SqliteMailStore.append`` returned, i.e. after COMMIT.

Two ways to combine recipients: :func:`deliver_each` gives every recipient its own outcome
(LMTP, RFC 2033); :func:`deliver_all` gives the message one reply (SMTP), asking every
recipient's policy first, so that a refusal for one recipient stores nothing for anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from mailhost.decisions import Defer, Deliver, Discard, Reject
from mailhost.delivery.recipients import Recipient
from mailhost.delivery.replies import (
    DELIVERED,
    DISCARDED,
    LOCAL_ERROR,
    OVER_QUOTA,
    PLUGIN_FAILED,
    STORAGE_FULL,
    USER_UNKNOWN,
    Reply,
    decision_reply,
)
from mailhost.delivery.trace import TraceInfo, received_header, return_path_header
from mailhost.plugins import PluginError
from mailhost.store.addresses import safe_for_log
from mailhost.store.interface import (
    MailboxExists,
    MailboxNotFound,
    MessageRef,
    OverQuota,
    StorageFull,
    StoreError,
)
from mailhost.store.sqlite.store import NoSuchAccount

if TYPE_CHECKING:
    from mailhost.app import App

log = logging.getLogger("mailhost.delivery")

T = TypeVar("T")
Relay = Callable[[Sequence[Recipient], bytes], Awaitable[Reply]]


@dataclass(frozen=True)
class Transaction:
    """One received message's envelope: who sent it, how, and the accepted recipients."""

    trace: TraceInfo
    sender: str  # "" is the null sender of bounces
    recipients: tuple[Recipient, ...]


def store_error_reply(exc: BaseException) -> Reply:
    """The reply for a failed append: 4xx whenever a retry can succeed, never a 250."""
    if isinstance(exc, OverQuota):
        return OVER_QUOTA
    if isinstance(exc, StorageFull):
        return STORAGE_FULL
    if isinstance(exc, NoSuchAccount):  # deleted between RCPT and the end of DATA
        return USER_UNKNOWN
    return LOCAL_ERROR


def local_copy(txn: Transaction, recipient: Recipient, content: bytes, when: datetime) -> bytes:
    """The bytes stored for one recipient: Return-Path and Received, then the message as sent."""
    return (return_path_header(txn.sender, txn.trace.smtputf8)
            + received_header(txn.trace, recipient.address, when) + content)


def relay_copy(txn: Transaction, content: bytes, when: datetime) -> bytes:
    """The bytes relayed on: a Received field only (Return-Path is added at final delivery)."""
    remote = [r for r in txn.recipients if not r.local]
    only = remote[0].address if len(remote) == 1 else None
    return received_header(txn.trace, only, when) + content


async def decide(
    app: App, txn: Transaction, recipient: Recipient, message: bytes
) -> Deliver | Discard | Reply:
    """Ask the delivery hook; a refusal or a broken plugin comes back as a Reply."""
    assert recipient.account is not None
    try:
        decision = await app.plugins.decide(
            "mailhost_delivery_decide", app=app, recipient=recipient.account,
            address=recipient.address, sender=txn.sender, message=message,
            protocol=txn.trace.protocol,
        )
    except PluginError as exc:
        log.error("%s: %s", txn.trace.queue_id, exc)
        return PLUGIN_FAILED
    if decision is None:
        return Deliver()
    if isinstance(decision, Reject | Defer):
        return decision_reply(decision)
    if isinstance(decision, Deliver | Discard):
        return decision
    log.error("%s: delivery hook returned %r, not a DeliveryDecision", txn.trace.queue_id,
              decision)
    return PLUGIN_FAILED


async def store(
    app: App, txn: Transaction, recipient: Recipient, decision: Deliver, message: bytes
) -> Reply:
    """Append ``message`` to the recipient's folder and tell the plugins, or map the failure."""
    assert recipient.account is not None
    # The server parses delivered mail after the commit (see store/sqlite/bodies.py); the
    # local delivery agent, another process, parses it at once, since the server would not
    # learn of its pending bodies before it next opens the account.
    later = txn.trace.protocol != "deliver"
    try:
        async with app.store.account(recipient.account) as mail:
            try:
                info, meta = await mail.append(decision.folder, message, decision.flags,
                                               analyse_later=later)
            except MailboxNotFound:  # a folder a plugin named that does not exist yet
                with contextlib.suppress(MailboxExists):
                    await mail.create_mailbox(decision.folder)
                info, meta = await mail.append(decision.folder, message, decision.flags,
                                               analyse_later=later)
    except Exception as exc:
        reply = store_error_reply(exc)
        if isinstance(exc, StoreError):  # expected: full, locked, quota, a plugin's bad folder
            log.warning("%s: not delivered to %s: %s (%s)", txn.trace.queue_id,
                        recipient.account, reply, exc)
        else:
            log.exception("%s: storing for %s failed: %s", txn.trace.queue_id,
                          recipient.account, reply)
        return reply
    log.info("%s: delivered from=<%s> to=<%s> account=%s folder=%s uid=%d size=%d proto=%s",
             txn.trace.queue_id, safe_for_log(txn.sender), safe_for_log(recipient.address),
             recipient.account, safe_for_log(info.name), meta.uid, meta.size,
             txn.trace.protocol)
    ref = MessageRef(account=mail.account, mailbox=info.name, uidvalidity=info.uidvalidity,
                     uid=meta.uid)
    await app.plugins.notify("mailhost_message_stored", app=app, ref=ref,
                             protocol=txn.trace.protocol)
    return DELIVERED


async def _carry_out(app: App, txn: Transaction, recipient: Recipient,
                     decision: Deliver | Discard, message: bytes) -> Reply:
    if isinstance(decision, Discard):
        log.info("%s: discarded for %s: %s", txn.trace.queue_id, recipient.account,
                 safe_for_log(decision.reason))
        return DISCARDED
    return await store(app, txn, recipient, decision, message)


async def deliver_each(app: App, txn: Transaction, content: bytes) -> list[Reply]:
    """One reply per recipient, in RCPT order (LMTP and ``mailhost deliver``).

    Two RCPTs reaching the same account (an alias and its target) store one copy and share
    its reply, as Postfix's duplicate elimination does.
    """
    when = datetime.now().astimezone()
    by_account: dict[str, Reply] = {}
    replies: list[Reply] = []
    for recipient in txn.recipients:
        assert recipient.account is not None
        reply = by_account.get(recipient.account)
        if reply is None:
            message = local_copy(txn, recipient, content, when)
            decision = await decide(app, txn, recipient, message)
            if isinstance(decision, Reply):
                reply = decision
                log.info("%s: refused for %s: %s", txn.trace.queue_id, recipient.account, reply)
            else:
                reply = await _carry_out(app, txn, recipient, decision, message)
            by_account[recipient.account] = reply
        replies.append(reply)
    return replies


def _worse(current: Reply, new: Reply) -> Reply:
    """Combine outcomes into SMTP's single reply: temporary beats permanent beats success.

    A temporary failure wins so the sender retries (a duplicate for the recipients that did
    get a copy is better than a loss, RFC 5321 §6.1).
    """
    if new.ok:
        return current
    if current.ok or (new.temporary and current.permanent):
        return new
    return current


async def deliver_all(
    app: App, txn: Transaction, content: bytes, relay: Relay | None = None
) -> Reply:
    """One reply for the whole message (SMTP, submission)."""
    when = datetime.now().astimezone()
    plans: list[tuple[Recipient, Deliver | Discard, bytes]] = []
    seen: set[str] = set()
    for recipient in txn.recipients:
        if recipient.account is None or recipient.account in seen:
            continue
        seen.add(recipient.account)
        message = local_copy(txn, recipient, content, when)
        decision = await decide(app, txn, recipient, message)
        if isinstance(decision, Reply):
            log.info("%s: refused for %s, message not stored for anyone: %s",
                     txn.trace.queue_id, recipient.account, decision)
            return decision
        plans.append((recipient, decision, message))
    outcome = DELIVERED
    remote = [r for r in txn.recipients if not r.local]
    if remote:
        if relay is None:
            return LOCAL_ERROR
        outcome = await relay(remote, relay_copy(txn, content, when))
        if not outcome.ok:
            return outcome  # nothing stored locally yet, so the retry duplicates nothing
    for recipient, decision, message in plans:
        outcome = _worse(outcome, await _carry_out(app, txn, recipient, decision, message))
    return outcome


_running: set[asyncio.Task[Any]] = set()


async def finish_even_if_cancelled(coro: Coroutine[Any, Any, T]) -> T:
    """Run a delivery to its end even if the client hangs up (its task is then cancelled).

    A store call cancelled between BEGIN and ROLLBACK would leave the account's shared
    connection inside a transaction; a delivery that has its data is finished instead, and the
    cancellation is re-raised afterwards.
    """
    outcome: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(_report(coro, outcome))
    _running.add(task)
    task.add_done_callback(_running.discard)
    try:
        return await outcome
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise


async def _report(coro: Coroutine[Any, Any, T], outcome: asyncio.Future[T]) -> None:
    """Run ``coro`` and resolve ``outcome`` from inside its task, as its last step.

    Its caller then wakes on the next loop iteration; with ``asyncio.shield(task)`` it woke
    two iterations later (the task's done callback, then the shield's). A cancelled caller
    has cancelled ``outcome``, which is then left alone.
    """
    try:
        result = await coro
    except Exception as exc:
        if not outcome.done():
            outcome.set_exception(exc)
        return
    except BaseException:  # the task itself was cancelled (shutdown), or the process exits
        outcome.cancel()
        raise
    if not outcome.done():
        outcome.set_result(result)
