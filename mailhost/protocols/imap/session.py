"""The IMAP session: reads commands (with literals), checks the state table, runs handlers.

The loop owns framing only: lines come from the channel, the sans-I/O
:class:`~mailhost.protocols.imap.reader.CommandAssembler` says when a literal must be read (and
whether to send a ``+`` continuation first), and the parser turns the pieces into a command
object. Handlers (in ``handlers/``) do the work through the store and hooks and end with
:meth:`ImapSession.complete`, which first tells the client what changed in the selected mailbox.
"""

from __future__ import annotations

import contextlib
import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from mailhost.channel import Channel
from mailhost.connection import ConnectionClosed, IdleTimeout
from mailhost.linebuffer import LineTooLong
from mailhost.plugins import PluginError
from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.chunks import CommandChunks
from mailhost.protocols.imap.errors import ParseError
from mailhost.protocols.imap.parser import parse_command
from mailhost.protocols.imap.reader import (
    AssemblyError,
    CommandAssembler,
    CommandReady,
    NeedLiteral,
)
from mailhost.protocols.imap.selected import InvalidSequence, SelectedMailbox
from mailhost.protocols.imap.state import State
from mailhost.store.interface import (
    InvalidMailboxName,
    MailboxExists,
    MailboxNotFound,
    OverQuota,
    StoreError,
    TemporaryStoreError,
)

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import ListenerSection
    from mailhost.store.sqlite.mailstore import SqliteMailStore

log = logging.getLogger("mailhost.imap")

# Commands during which EXPUNGE must not be sent (RFC 3501 §7.4.1): sequence numbers in
# their results would become ambiguous. The UID forms may receive them.
_NO_EXPUNGE_DURING = (cmd.Fetch, cmd.Store, cmd.Search)


def verb_of(command: cmd.Command) -> str:
    """The registry key for a command: its class's ``verb`` or its class name."""
    return str(getattr(type(command), "verb", type(command).__name__.upper()))


class ImapSession:
    """State for one IMAP connection."""

    def __init__(self, app: App, channel: Channel, listener: ListenerSection) -> None:
        self.app = app
        self.channel = channel
        self.listener = listener
        self.settings = app.config.imap
        self.state = State.NOT_AUTHENTICATED
        self.username: str | None = None
        self.mail: SqliteMailStore | None = None
        self.selected: SelectedMailbox | None = None
        self.enabled: set[str] = set()
        self.bad_in_a_row = 0
        self.stack = AsyncExitStack()
        self.assembler = CommandAssembler(
            max_literal=self.settings.max_literal_preauth,
            max_command=self.settings.max_line + self.settings.max_literal_preauth,
        )
        self.data: dict[str, Any] = {}  # scratch space for plugins, per session

    # -- replies --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.channel.write(data)

    def untagged(self, text: bytes) -> None:
        self.channel.write(b"* " + text + b"\r\n")

    def tagged(self, tag: bytes, status: bytes, text: str, code: bytes | None = None) -> None:
        code_part = b"[" + code + b"] " if code else b""
        self.channel.write(tag + b" " + status + b" " + code_part + text.encode() + b"\r\n")

    async def complete(
        self, command: cmd.Command, text: str = "completed", code: bytes | None = None
    ) -> None:
        """Report mailbox changes the client may now hear about, then the tagged OK."""
        await self.report_changes(allow_expunge=not isinstance(command, _NO_EXPUNGE_DURING)
                                  or bool(getattr(command, "uid", False)))
        self.tagged(command.tag, b"OK", f"{verb_of(command)} {text}", code)

    def no(self, command: cmd.Command, text: str, code: bytes | None = None) -> None:
        self.tagged(command.tag, b"NO", text, code)

    def bad(self, command: cmd.Command, text: str) -> None:
        self.tagged(command.tag, b"BAD", text)

    # -- capabilities and modes -----------------------------------------------------------

    @property
    def condstore(self) -> bool:
        return "CONDSTORE" in self.enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    @property
    def starttls_available(self) -> bool:
        return self.listener.tls == "starttls" and not self.channel.is_secure

    @property
    def cleartext_allowed(self) -> bool:
        return self.app.authenticator.cleartext_allowed(self.channel)

    def require_mail(self) -> SqliteMailStore:
        assert self.mail is not None, "authenticated state without a mail store"
        return self.mail

    def require_selected(self) -> SelectedMailbox:
        assert self.selected is not None, "selected state without a mailbox"
        return self.selected

    async def report_changes(self, allow_expunge: bool) -> None:
        if self.selected is None or self.mail is None:
            return
        if await self.mail.mailbox_by_id(self.selected.info.id) is None:
            # Deleted or renamed away by another session: end the selection cleanly.
            self.selected = None
            self.state = State.AUTHENTICATED
            self.untagged(b"OK [CLOSED] the selected mailbox no longer exists")
            return
        for line in await self.selected.refresh(self.mail, allow_expunge, self.condstore,
                                                self.qresync):
            self.send(line)

    @property
    def timeout(self) -> float:
        if self.state == State.NOT_AUTHENTICATED:
            return self.settings.auth_timeout
        return self.settings.idle_timeout

    def logged_in(self) -> None:
        """Raise the literal limits once a user is authenticated (APPENDLIMIT applies)."""
        self.assembler.max_literal = self.settings.max_line
        self.assembler.append_limit = self.settings.append_limit
        self.assembler.max_command = self.settings.max_line * 4

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        from mailhost.protocols.imap.handlers.session import capability_atoms

        async with self.stack:
            self.channel.set_max_line(self.settings.max_line)
            caps = b" ".join(capability_atoms(self))
            self.send(b"* OK [CAPABILITY " + caps + b"] " +
                      self.app.config.server.hostname.encode() + b" IMAP4rev1 ready\r\n")
            while self.state != State.LOGOUT:
                try:
                    await self.channel.drain()
                    command = await self.read_command()
                    if command is not None:
                        await self.dispatch(command)
                except IdleTimeout:
                    self.send(b"* BYE autologout; idle for too long\r\n")
                    break
                except ConnectionClosed:
                    break
            with contextlib.suppress(ConnectionClosed):
                await self.channel.drain()

    async def read_command(self) -> cmd.Command | None:
        """Read one whole command, literals included; None after answering a bad one."""
        line = await self.channel.read_line(self.timeout)
        while True:
            if isinstance(line, LineTooLong):
                self.assembler = self._fresh_assembler()
                self._bad_line(None, f"line too long (max {line.limit} octets)")
                return None
            result = self.assembler.feed_line(line)
            if isinstance(result, CommandReady):
                return self._parse(result.chunks)
            if isinstance(result, AssemblyError):
                self._assembly_failed(result)
                return None
            assert isinstance(result, NeedLiteral)
            if result.synchronizing:
                self.send(b"+ Ready for literal data\r\n")
                await self.channel.drain()
            data = await self.channel.read_exact(result.size, self.timeout)
            self.assembler.feed_literal(data)
            line = await self.channel.read_line(self.timeout)

    def _fresh_assembler(self) -> CommandAssembler:
        old = self.assembler
        return CommandAssembler(old.max_literal, old.max_command, old.append_limit)

    def _parse(self, chunks: CommandChunks) -> cmd.Command | None:
        try:
            command = parse_command(chunks, self.app.imap_commands.parsers)
        except ParseError as exc:
            if exc.status == b"NO" and exc.tag is not None:
                code = b"[" + exc.code + b"] " if exc.code else b""
                self.send(exc.tag + b" NO " + code + exc.message.encode() + b"\r\n")
                return None
            self._bad_line(exc.tag, exc.message)
            return None
        self.bad_in_a_row = 0
        return command

    def _assembly_failed(self, error: AssemblyError) -> None:
        tag = error.tag or b"*"
        if error.too_big:
            self.send(tag + b" NO [TOOBIG] " + error.message.encode() + b"\r\n")
        else:
            self.send(tag + b" BAD " + error.message.encode() + b"\r\n")
        if error.fatal:
            self.send(b"* BYE closing: the rest of that command cannot be read safely\r\n")
            self.state = State.LOGOUT
        self.assembler = self._fresh_assembler()

    def _bad_line(self, tag: bytes | None, message: str) -> None:
        self.bad_in_a_row += 1
        self.send((tag or b"*") + b" BAD " + message.encode() + b"\r\n")
        if self.bad_in_a_row >= self.settings.max_bad_commands:
            self.send(b"* BYE too many bad commands\r\n")
            self.state = State.LOGOUT

    async def dispatch(self, command: cmd.Command) -> None:
        verb = verb_of(command)
        entry = self.app.imap_commands.get(verb)
        if entry is None:
            self.bad(command, f"{verb} is not supported")
            return
        if self.state.value not in entry.states:
            self.bad(command, f"{verb} is not valid in the {self.state.value} state")
            return
        try:
            await entry.handler(self, command)
        except (ConnectionClosed, IdleTimeout):
            raise
        except PluginError as exc:
            log.error("%s: %s", self.username or self.channel.peer_ip, exc)
            self.no(command, "temporary failure in a server plugin, try again", b"UNAVAILABLE")
        except InvalidSequence as exc:
            self.bad(command, str(exc))
        except MailboxNotFound:
            self.no(command, "no such mailbox", b"NONEXISTENT")
        except MailboxExists:
            self.no(command, "mailbox already exists", b"ALREADYEXISTS")
        except InvalidMailboxName as exc:
            self.no(command, f"invalid mailbox name: {exc}", b"CANNOT")
        except OverQuota as exc:
            self.no(command, str(exc), b"OVERQUOTA")
        except TemporaryStoreError:
            log.exception("temporary store failure for %s", self.username)
            self.no(command, "temporary storage failure, try again", b"UNAVAILABLE")
        except StoreError as exc:
            self.no(command, str(exc), b"CANNOT")
        except Exception:
            log.exception("IMAP %s failed for %s", verb, self.username)
            self.no(command, "internal server error", b"SERVERBUG")
