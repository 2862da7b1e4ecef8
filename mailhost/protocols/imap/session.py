"""The IMAP session: reads commands (with literals), checks the state table, runs handlers.

The loop owns framing only: lines come from the channel, the sans-I/O
:class:`~mailhost.protocols.imap.reader.CommandAssembler` says when a literal must be read (and
whether to send a ``+`` continuation first), and the parser turns the pieces into a command
object. Handlers (in ``handlers/``) do the work through the store and hooks and end with
:meth:`ImapSession.complete`, which first tells the client what changed in the selected mailbox.

Commands whose registry entry is ``concurrent`` (APPEND) are pipelined: the loop starts them
and reads on, so a client's APPENDs reach the store together and share its commits. Their
output is buffered per command and sent strictly in command order; any other command (or
error reply) first waits until every pipelined command before it has been answered, so
command semantics stay sequential.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

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
from mailhost.protocols.registry import CommandEntry
from mailhost.store.interface import (
    InvalidMailboxName,
    MailboxExists,
    MailboxNotFound,
    OverQuota,
    StoreError,
    TemporaryStoreError,
)
from mailhost.store.sqlite.changes import commit_token

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import ListenerSection
    from mailhost.store.sqlite.mailstore import SqliteMailStore

log = logging.getLogger("mailhost.imap")

# Commands during which EXPUNGE must not be sent (RFC 3501 §7.4.1): sequence numbers in
# their results would become ambiguous. The UID forms may receive them.
_NO_EXPUNGE_DURING = (cmd.Fetch, cmd.Store, cmd.Search)


# Pipelined commands in flight per session, and the literal bytes they may hold together
# (at least one APPENDLIMIT-sized message always fits).
PIPELINE_DEPTH: Final = 64
PIPELINE_BYTES: Final = 32 * 1024 * 1024


@dataclass(frozen=True)
class _Refresh:
    """In a pipelined command's output: report mailbox changes here, when it is sent."""

    allow_expunge: bool


Output = list[bytes | _Refresh]

# The output buffer of the pipelined command running in this task; None: write directly.
_OUTPUT: contextvars.ContextVar[Output | None] = contextvars.ContextVar("imap_output",
                                                                         default=None)


@dataclass
class _InFlight:
    """A pipelined command: its task, what it has to say, and the literal bytes it holds."""

    task: asyncio.Task[None]
    output: Output = field(default_factory=list)
    size: int = 0


def _reports_later(pipeline: deque[_InFlight]) -> bool:
    """Whether the command after the head is done and will report every change anyway.

    Then the head's own report is left to it: a burst of APPENDs to the selected mailbox
    costs one report, not one per message.
    """
    if len(pipeline) < 2 or not pipeline[1].task.done():
        return False
    return any(isinstance(piece, _Refresh) and piece.allow_expunge
               for piece in pipeline[1].output)


def may_expunge(command: cmd.Command) -> bool:
    """Whether EXPUNGE (or VANISHED) may be sent while ``command`` runs."""
    return not isinstance(command, _NO_EXPUNGE_DURING) or bool(getattr(command, "uid", False))


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
        # The selected mailbox and the account's commit token when it was last brought up
        # to date: while the token has not moved there is nothing to report.
        self._synced: tuple[SelectedMailbox, bytes] | None = None
        # Pipelined commands, oldest first; made when the first one starts and dropped once
        # all are answered, so an idle session does not carry them.
        self._pipeline: deque[_InFlight] | None = None
        self._pipeline_bytes = 0
        self._flusher: asyncio.Task[None] | None = None
        self._progress: asyncio.Event | None = None  # set whenever one is answered
        self._lost = False  # the connection closed while pipelined replies were being sent
        self._held: list[bytes] | None = None  # collected by one_write()

    # -- replies --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        output = _OUTPUT.get()
        if output is not None:
            output.append(data)
        elif self._held is not None:
            self._held.append(data)
        else:
            self.channel.write(data)

    @contextlib.contextmanager
    def one_write(self) -> Iterator[None]:
        """Send what the block sends in one write when it ends (also when it raises).

        Each write is a system call and, on loopback, a wake-up of the client: a SELECT's
        ten lines reach it as one segment instead of ten. Only for blocks that wait for the
        store, never for the client.
        """
        if self._held is not None or _OUTPUT.get() is not None:
            yield  # already collected: by an outer block, or as a pipelined command's output
            return
        held = self._held = []
        try:
            yield
        finally:
            self._held = None
            if held:
                self.channel.write(b"".join(held))

    def untagged(self, text: bytes) -> None:
        self.send(b"* " + text + b"\r\n")

    def tagged(self, tag: bytes, status: bytes, text: str, code: bytes | None = None) -> None:
        code_part = b"[" + code + b"] " if code else b""
        self.send(tag + b" " + status + b" " + code_part + text.encode() + b"\r\n")

    async def complete(
        self, command: cmd.Command, text: str = "completed", code: bytes | None = None
    ) -> None:
        """Report mailbox changes the client may now hear about, then the tagged OK."""
        await self.report_changes(allow_expunge=may_expunge(command))
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

    def commit_token(self) -> bytes | None:
        """The account's commit token now (None: unknown), read before what it vouches for."""
        return None if self.mail is None else commit_token(self.mail.path)

    def note_synced(self, box: SelectedMailbox, token: bytes | None) -> None:
        """``box`` holds everything committed up to ``token`` (read before ``box`` was)."""
        self._synced = None if token is None else (box, token)

    def _in_step(self, token: bytes | None) -> bool:
        """Nothing was committed to the account since the selected mailbox was last synced.

        Commits by this session, other sessions and other processes all move the token, so
        when it has not moved the store has nothing new to say and no query is needed.
        """
        synced = self._synced
        return token is not None and synced is not None and synced[0] is self.selected \
            and token == synced[1]

    async def report_changes(self, allow_expunge: bool) -> None:
        output = _OUTPUT.get()
        if output is not None:  # pipelined: report when this command's reply goes out
            output.append(_Refresh(allow_expunge))
            return
        box = self.selected
        if box is None or self.mail is None:
            return
        token = self.commit_token()
        if not box.expunged_pending and self._in_step(token):
            return
        lines = await box.refresh(self.mail, allow_expunge, self.condstore, self.qresync)
        if lines is None:
            self.selection_gone()
            return
        self.note_synced(box, token)
        for line in lines:
            self.send(line)

    async def check_selection(self) -> None:
        """Before a command: has another session deleted the selected mailbox?"""
        if self.selected is not None and self.mail is not None and \
                not self._in_step(self.commit_token()) and \
                await self.mail.mailbox_version(self.selected.info.id) is None:
            self.selection_gone()

    def selection_gone(self) -> None:
        """End the selection of a mailbox another session deleted (RFC 7162 [CLOSED]).

        The session is back in the authenticated state, so the next FETCH gets a clear BAD
        instead of answers about messages that no longer exist.
        """
        self.selected = None
        self.state = State.AUTHENTICATED
        self.untagged(b"OK [CLOSED] the selected mailbox no longer exists")

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
            try:
                await self._loop()
            finally:
                await self._finish_pipeline()
            with contextlib.suppress(ConnectionClosed):
                await self.channel.drain()

    async def _loop(self) -> None:
        while self.state != State.LOGOUT:
            try:
                await self.channel.drain()
                command = await self.read_command()
                if command is None:
                    continue
                entry = self._concurrent_entry(command)
                if entry is not None:
                    await self._start_pipelined(entry, command)
                else:
                    await self.settle()
                    await self.dispatch(command)
            except IdleTimeout:
                with contextlib.suppress(ConnectionClosed):
                    await self.settle()
                    self.send(b"* BYE autologout; idle for too long\r\n")
                break
            except ConnectionClosed:
                break

    # -- pipelined commands ---------------------------------------------------------------

    def _concurrent_entry(self, command: cmd.Command) -> CommandEntry[Any] | None:
        """The registry entry to start ``command`` with while others run, if it may be."""
        entry = self.app.imap_commands.get(verb_of(command))
        if entry is None or not entry.concurrent or self.state.value not in entry.states:
            return None
        return entry

    async def _start_pipelined(self, entry: CommandEntry[Any], command: cmd.Command) -> None:
        """Start ``command`` in its own task, its replies buffered until its turn."""
        size = len(getattr(command, "message", b""))
        if self._pipeline is None or self._progress is None:
            self._pipeline, self._progress = deque(), asyncio.Event()
        while self._pipeline and (len(self._pipeline) >= PIPELINE_DEPTH
                                  or self._pipeline_bytes + size > PIPELINE_BYTES):
            self._progress.clear()
            await self._progress.wait()
        if self._lost:
            raise ConnectionClosed()
        output: Output = []
        context = contextvars.copy_context()
        context.run(_OUTPUT.set, output)
        task = asyncio.create_task(self.run_handler(entry, command), context=context)
        self._pipeline.append(_InFlight(task, output, size))
        self._pipeline_bytes += size
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Send each pipelined command's replies once it and all before it are done.

        Replies of commands that are already done go out in one write.
        """
        pipeline, progress = self._pipeline, self._progress
        assert pipeline is not None and progress is not None
        ready: list[bytes] = []
        while pipeline:
            head = pipeline[0]
            try:
                if not head.task.done():
                    await self._write_ready(ready)
                    await asyncio.wait((head.task,))
                if not head.task.cancelled() and head.task.exception() is not None:
                    log.error("pipelined IMAP command failed for %s", self.username,
                              exc_info=head.task.exception())
                await self._send_output(head.output, ready, _reports_later(pipeline))
            except Exception:  # never leave the loop waiting for progress that cannot come
                log.exception("sending pipelined IMAP replies failed for %s", self.username)
                self._lost = True
            finally:
                pipeline.popleft()
                self._pipeline_bytes -= head.size
                progress.set()
        await self._write_ready(ready)

    async def _write_ready(self, ready: list[bytes]) -> None:
        """Write the collected replies and wait until the client takes them."""
        if not ready or self._lost:
            ready.clear()
            return
        self.channel.write(b"".join(ready))
        ready.clear()
        try:
            await self.channel.drain()
        except ConnectionClosed:
            self._lost = True

    async def _send_output(self, output: Output, ready: list[bytes],
                           reported_later: bool) -> None:
        for piece in output:
            if not isinstance(piece, _Refresh):
                ready.append(piece)
                continue
            if reported_later or self._lost:
                continue
            await self._write_ready(ready)  # what the report says comes after these
            try:
                await self.report_changes(piece.allow_expunge)
            except (ConnectionClosed, IdleTimeout):
                self._lost = True
            except Exception:  # the command itself succeeded; the next one reports instead
                log.exception("reporting mailbox changes failed for %s", self.username)

    async def settle(self) -> None:
        """Wait until every pipelined command has been answered (before anything else)."""
        if self._flusher is not None:
            # Shielded: a session cancelled while waiting still lets its started commands
            # finish and the flusher keep their order (see _finish_pipeline).
            await asyncio.shield(self._flusher)
            self._flusher = None
            self._pipeline = self._progress = None
        if self._lost:
            raise ConnectionClosed()

    async def _finish_pipeline(self) -> None:
        """At the end of the session: let started commands finish (they are never cut off
        in the middle of a store write), answering them if the client is still there."""
        if self._flusher is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.settle()

    async def read_command(self) -> cmd.Command | None:
        """Read one whole command, literals included; None after answering a bad one."""
        line = await self.channel.read_line(self.timeout)
        while True:
            if isinstance(line, LineTooLong):
                self.assembler = self._fresh_assembler()
                await self.settle()
                self._bad_line(None, f"line too long (max {line.limit} octets)")
                return None
            result = self.assembler.feed_line(line)
            if isinstance(result, CommandReady):
                return await self._parse(result.chunks)
            if isinstance(result, AssemblyError):
                await self.settle()
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

    async def _parse(self, chunks: CommandChunks) -> cmd.Command | None:
        try:
            command = parse_command(chunks, self.app.imap_commands.parsers)
        except ParseError as exc:
            await self.settle()  # its reply comes after those of the commands before it
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
        if State.AUTHENTICATED.value not in entry.states:
            # Only a command that needs the selection must learn first that it is gone;
            # for the others the report after the command says so.
            await self.check_selection()
        if self.state.value not in entry.states:
            self.bad(command, f"{verb} is not valid in the {self.state.value} state")
            return
        await self.run_handler(entry, command)

    async def run_handler(self, entry: CommandEntry[Any], command: cmd.Command) -> None:
        """Run a command's handler, answering NO/BAD for the errors it may raise."""
        verb = entry.verb
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
