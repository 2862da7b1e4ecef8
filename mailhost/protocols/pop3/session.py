"""The POP3 session: RFC 1939's AUTHORIZATION -> TRANSACTION -> UPDATE state machine.

The session reads lines from a :class:`~mailhost.channel.Channel`, parses them, checks the verb
against the state table in the command registry, and runs the registered handler. Handlers
(see :mod:`mailhost.protocols.pop3.commands`) act through the store and policy hooks; only the
channel touches the network.
"""

from __future__ import annotations

import contextlib
import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from mailhost.channel import AnswersLines, Channel
from mailhost.connection import ConnectionClosed, IdleTimeout
from mailhost.linebuffer import LineTooLong
from mailhost.plugins import PluginError
from mailhost.protocols.pop3.maildrop import MaildropEntry
from mailhost.protocols.pop3.parser import (
    MAX_COMMAND_LINE,
    Pop3Command,
    Pop3ParseError,
    err,
    parse_command,
)
from mailhost.protocols.pop3.readahead import ReadAhead

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import ListenerSection
    from mailhost.store.sqlite.mailstore import SqliteMailStore

log = logging.getLogger("mailhost.pop3")

AUTHORIZATION = "authorization"
TRANSACTION = "transaction"
UPDATE = "update"

# SASL responses carry base64 of up to ~1 KB passwords; allow them, but only while authenticating.
MAX_SASL_LINE = 4096


class Pop3Session:
    """State for one POP3 connection; handlers read and change it."""

    def __init__(self, app: App, channel: Channel, listener: ListenerSection) -> None:
        self.app = app
        self.channel = channel
        self.listener = listener
        self.settings = app.config.pop3
        self.state = AUTHORIZATION
        self.username: str | None = None
        self.pending_user: str | None = None
        self.utf8 = False
        self.mail: SqliteMailStore | None = None
        self.maildrop: list[MaildropEntry] = []
        self.readahead = ReadAhead()  # bodies of the next messages, for RETR and TOP
        self.bad_commands = 0
        self.stack = AsyncExitStack()
        self.finished = False
        self.data: dict[str, Any] = {}  # scratch space for plugins, per session

    # -- helpers for handlers -------------------------------------------------------------

    def reply(self, data: bytes) -> None:
        self.channel.write(data)

    @property
    def starttls_available(self) -> bool:
        return self.listener.tls == "starttls" and not self.channel.is_secure

    @property
    def cleartext_allowed(self) -> bool:
        return self.app.authenticator.cleartext_allowed(self.channel)

    def entry(self, number: int | None) -> MaildropEntry | None:
        """A visible (not deleted) message by number, or None."""
        if number is None or number > len(self.maildrop):
            return None
        entry = self.maildrop[number - 1]
        return None if entry.deleted else entry

    def visible(self) -> list[MaildropEntry]:
        return [e for e in self.maildrop if not e.deleted]

    @property
    def timeout(self) -> float:
        if self.state == AUTHORIZATION:
            return self.settings.auth_timeout
        return self.settings.idle_timeout

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        answering = self.channel if isinstance(self.channel, AnswersLines) else None
        if answering is not None:
            answering.line_handler = self.answer_now
        try:
            await self._serve()
        finally:
            if answering is not None:
                answering.line_handler = None  # no cycle between connection and session

    async def _serve(self) -> None:
        async with self.stack:
            self.channel.set_max_line(MAX_COMMAND_LINE)
            self.reply(b"+OK " + self.app.config.server.hostname.encode() + b" POP3 ready\r\n")
            while not self.finished:
                try:
                    line = await self.channel.read_line(self.timeout)
                    # Handle nothing while the peer is not reading our replies (drain after
                    # the read: answer_now may have written since this loop last drained).
                    await self.channel.drain()
                except IdleTimeout:
                    self.reply(err("autologout; idle for too long"))
                    break
                except ConnectionClosed:
                    break
                try:
                    await self.handle_line(line)
                except ConnectionClosed:
                    break
            with contextlib.suppress(ConnectionClosed):
                await self.channel.drain()

    async def handle_line(self, line: bytes | LineTooLong) -> None:
        if isinstance(line, LineTooLong):
            self._bad(f"line too long (max {line.limit} octets)")
            return
        try:
            command = parse_command(line)
        except Pop3ParseError as exc:
            self._bad(str(exc))
            return
        entry = self.app.pop3_commands.get(command.verb)
        if entry is None:
            self._bad("unknown command")
            return
        if self.state not in entry.states:
            self._bad(f"{command.verb} is not valid in the {self.state} state")
            return
        try:
            await entry.handler(self, command)
        except ConnectionClosed:
            raise
        except Exception as exc:
            self._failed(command, exc)

    def answer_now(self, line: bytes) -> bool:
        """Answer ``line`` at once, from the connection's data callback, if memory suffices.

        This is :meth:`handle_line` for the common case, without a task switch per command:
        a valid TRANSACTION command whose verb has an instant form (see
        :mod:`mailhost.protocols.pop3.commands`) that finds what it needs in memory. For
        anything else it returns False having sent nothing, and :meth:`run` gets the line.
        """
        if self.state != TRANSACTION or self.finished:
            return False
        try:
            command = parse_command(line)
        except Pop3ParseError:
            return False
        entry = self.app.pop3_commands.get(command.verb)
        if entry is None or entry.instant is None or TRANSACTION not in entry.states:
            return False
        try:
            answered: bool = entry.instant(self, command)
        except Exception as exc:
            self._failed(command, exc)
            return True
        return answered

    def _failed(self, command: Pop3Command, exc: Exception) -> None:
        """A handler raised: log it, and tell the client to try again rather than hang up."""
        if isinstance(exc, PluginError):
            log.error("%s: %s", self.username or self.channel.peer_ip, exc)
            self.reply(err("temporary server problem, try again later", "SYS/TEMP"))
        else:
            log.error("POP3 %s failed for %s", command.verb, self.username, exc_info=exc)
            self.reply(err("internal server error", "SYS/TEMP"))

    def _bad(self, reason: str) -> None:
        self.bad_commands += 1
        if self.bad_commands >= self.settings.max_bad_commands:
            self.reply(err("too many bad commands, closing connection"))
            self.finished = True
            return
        self.reply(err(reason))
