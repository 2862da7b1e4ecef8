"""Untimed population through the servers' own protocols, identical for both servers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from bench.imap import ImapClient, ImapError, quoted
from bench.lmtp import LmtpClient
from bench.messages import Message
from bench.servers import PASSWORD, BenchServer, address

POPULATE_TIMEOUT = 300.0
_MESSAGES = re.compile(rb"\(MESSAGES (\d+)\)")


async def login(server: BenchServer, user: str, timeout: float = 60.0) -> ImapClient:
    client = await ImapClient.connect(server.ports.imap, timeout)
    await client.login(address(user), PASSWORD)
    return client


async def message_count(server: BenchServer, user: str, mailbox: str) -> int:
    """MESSAGES from STATUS; -1 if the mailbox does not exist."""
    client = await login(server, user)
    try:
        reply = await client.command(b"STATUS " + quoted(mailbox) + b" (MESSAGES)")
    except ImapError:
        return -1
    finally:
        await client.logout()
    for line in reply.untagged:
        found = _MESSAGES.search(line)
        if found:
            return int(found.group(1))
    return -1


async def append_all(server: BenchServer, user: str, mailbox: str,
                     messages: Iterable[Message], window: int) -> float:
    """Pipelined LITERAL+ APPEND of every message, creating the mailbox unless it is INBOX.

    Returns the seconds from the first APPEND sent to the last one acknowledged.
    """
    client = await login(server, user, POPULATE_TIMEOUT)
    try:
        if mailbox.upper() != "INBOX":
            await client.command(b"CREATE " + quoted(mailbox))
        started = time.perf_counter()
        await client.pipeline(
            (client.append_command(mailbox, m.raw, m.internaldate) for m in messages), window)
        return time.perf_counter() - started
    finally:
        await client.logout()


async def deliver_all(server: BenchServer, user: str, messages: Iterable[Message]) -> None:
    """LMTP delivery of every message to ``user``'s INBOX, one connection."""
    assert server.ports.lmtp is not None
    client = await LmtpClient.connect(server.ports.lmtp, POPULATE_TIMEOUT)
    try:
        for message in messages:
            await client.deliver(message.sender, address(user), message.raw)
    finally:
        await client.quit()
