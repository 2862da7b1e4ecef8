"""Listeners, connection limits, signals and privilege dropping.

The server owns the sockets; the protocol plugins only get a :class:`Connection` per client.
SIGTERM stops accepting and gives sessions ``shutdown_grace`` seconds to finish; SIGHUP reloads
the configuration and certificate and adds or removes listeners, without touching connected
sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import importlib
import logging
import os
import signal
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mailhost.app import App
from mailhost.config import ConfigError, ListenerSection, load_config
from mailhost.connection import Connection
from mailhost.memory import FreedMemoryReturner

log = logging.getLogger("mailhost.server")

ListenerKey = tuple[str, str, int, str]
T = TypeVar("T")


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """How to make the configured loop: uvloop cuts the per-read and per-wake-up cost of the
    loop itself (measured in bench/); without it installed, asyncio's own loop serves."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("[server] event_loop = \"uvloop\" but uvloop is not installed; "
                        "using asyncio's event loop")
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def run_on_loop(coro: Coroutine[Any, Any, T], event_loop: str) -> T:
    """``asyncio.run`` on the configured event loop (Python 3.11's run has no loop_factory)."""
    with asyncio.Runner(loop_factory=event_loop_factory(event_loop)) as runner:
        return runner.run(coro)


def _key(listener: ListenerSection) -> ListenerKey:
    return (listener.protocol, listener.address, listener.port, listener.tls)


@dataclass
class Listener:
    config: ListenerSection
    server: asyncio.Server

    @property
    def port(self) -> int:
        """The bound port (useful when the config asked for port 0)."""
        return int(self.server.sockets[0].getsockname()[1])


class Server:
    """Runs an :class:`App` on its configured listeners."""

    def __init__(self, app: App, config_path: str | None = None) -> None:
        self.app = app
        self.config_path = config_path
        self.listeners: dict[ListenerKey, Listener] = {}
        self.sessions: dict[Connection, asyncio.Task[None]] = {}
        self.per_ip: Counter[str] = Counter()
        self._stopping = asyncio.Event()

    # -- listeners ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.app.start()
        for index, listener in enumerate(self.app.config.listeners):
            await self._listen(index, listener)
        # Sessions and account databases come and go; what they free goes back to the system.
        self.app.spawn(FreedMemoryReturner().run(), name="return freed memory")

    async def _listen(self, index: int, listener: ListenerSection) -> None:
        loop = asyncio.get_running_loop()
        handler = self.app.protocols[listener.protocol]
        ssl_context = self.app.tls_context if listener.tls != "none" else None
        limit = self.app.config.server.write_buffer_limit
        accepted = functools.partial(self._accepted, listener=listener)  # one per listener

        def factory() -> Connection:
            conn = Connection(write_buffer_limit=limit)
            conn.on_made = accepted
            return conn

        try:
            server = await loop.create_server(
                factory, listener.address, listener.port, reuse_address=True,
                ssl=ssl_context if listener.tls == "implicit" else None,
                ssl_handshake_timeout=(
                    self.app.config.tls.handshake_timeout if listener.tls == "implicit" else None
                ),
            )
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            fix = ("stop the program using it or choose another port"
                   if exc.errno == errno.EADDRINUSE else "check the address and permissions")
            if exc.errno == errno.EACCES and listener.port < 1024:
                fix = "ports below 1024 need root (set [server] user to drop privileges after)"
            raise ConfigError(
                self.app.config.source, f"listener[{index}].port",
                f"cannot listen on {listener.address}:{listener.port} "
                f"({handler.name}): {reason}", fix,
            ) from None
        entry = Listener(listener, server)
        self.listeners[_key(listener)] = entry
        log.info("listening: %s on %s:%d (tls=%s)", listener.protocol, listener.address,
                 entry.port, listener.tls)

    def port_of(self, protocol: str, tls: str | None = None) -> int:
        """The bound port of the first listener for ``protocol`` (tests use port 0)."""
        for listener in self.listeners.values():
            if listener.config.protocol == protocol and tls in (None, listener.config.tls):
                return listener.port
        raise KeyError(protocol)

    # -- connections ----------------------------------------------------------------------

    def _refusal(self, conn: Connection) -> str | None:
        server_cfg = self.app.config.server
        if self._stopping.is_set():
            return "server shutting down"
        if self.app.authenticator.is_locked_out(conn.peer_ip):
            return "too many failed logins from your address; try again later"
        if len(self.sessions) >= server_cfg.max_connections:
            return "too many connections"
        if self.per_ip[conn.peer_ip] >= server_cfg.max_connections_per_ip:
            return "too many connections from your address"
        return None

    def _accepted(self, conn: Connection, listener: ListenerSection) -> None:
        handler = self.app.protocols[listener.protocol]
        reason = self._refusal(conn)
        if reason is not None:
            log.info("refused %s connection from %s: %s", listener.protocol, conn.peer_ip, reason)
            conn.write(handler.refuse(reason))
            conn.close()
            return
        self.per_ip[conn.peer_ip] += 1
        task = asyncio.get_running_loop().create_task(self._run(conn, listener))
        self.sessions[conn] = task

    async def _run(self, conn: Connection, listener: ListenerSection) -> None:
        handler = self.app.protocols[listener.protocol]
        try:
            await handler.serve(self.app, conn, listener)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("%s session from %s failed", listener.protocol, conn.peer_ip)
        finally:
            conn.close()
            self.sessions.pop(conn, None)
            self.per_ip[conn.peer_ip] -= 1
            if self.per_ip[conn.peer_ip] <= 0:
                del self.per_ip[conn.peer_ip]

    # -- lifecycle ------------------------------------------------------------------------

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting, let sessions finish for ``grace`` seconds, then close the rest."""
        self._stopping.set()
        for listener in self.listeners.values():
            listener.server.close()
        self.listeners.clear()
        grace = self.app.config.server.shutdown_grace if grace is None else grace
        pending = list(self.sessions.values())
        if pending:
            log.info("waiting up to %.0fs for %d sessions to finish", grace, len(pending))
            _done, still = await asyncio.wait(pending, timeout=grace)
            for conn in list(self.sessions):
                conn.abort()
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=5)
        await self.app.close()

    async def reload(self) -> None:
        """SIGHUP: re-read the config file and certificate; sessions are untouched."""
        if self.config_path is None:
            self.app.reload_certificate()
            log.info("reloaded certificate (running on defaults, no config file)")
            return
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            return
        old = self.app.config
        if new.plugins != old.plugins or new.plugin_settings != old.plugin_settings:
            log.warning("plugin changes need a restart; other changes are applied now")
        self.app.config = new
        self.app.authenticator.settings = new.auth
        try:
            self.app.reload_certificate()
        except ConfigError as exc:
            log.error("certificate reload failed, keeping the old one: %s", exc)
        wanted = {_key(listener): listener for listener in new.listeners}
        for key in [k for k in self.listeners if k not in wanted]:
            self.listeners.pop(key).server.close()
            log.info("stopped listening: %s on %s:%d", key[0], key[1], key[2])
        for index, listener in enumerate(new.listeners):
            if _key(listener) not in self.listeners:
                try:
                    await self._listen(index, listener)
                except ConfigError as exc:
                    log.error("%s", exc)
        log.info("configuration reloaded from %s", self.config_path)

    def drop_privileges(self) -> None:
        """Bound as root? Become ``[server] user`` now, or warn loudly."""
        if os.geteuid() != 0:
            return
        name = self.app.config.server.user
        if not name:
            log.warning("running as root: set [server] user so mailhost drops privileges "
                        "after binding its ports")
            return
        import pwd

        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise ConfigError(self.app.config.source, "server.user", f"no system user {name!r}",
                              "create the user or correct the name") from None
        _chown_tree(self.app.config.data_dir, entry.pw_uid, entry.pw_gid)
        _import_lazy_modules()
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        log.info("dropped privileges to %s (uid %d)", name, entry.pw_uid)

    async def run_until_stopped(self, on_ready: Callable[[], Any] | None = None) -> None:
        """Serve until SIGTERM/SIGINT; SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.app.spawn(self.reload()))
        if on_ready is not None:
            on_ready()
        await stop.wait()
        log.info("shutting down")
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await self.stop()


# Modules the running server imports on first use. After the privilege drop the interpreter's
# own files may be unreadable (a Python under /root), so import them while still root.
LAZY_MODULES = (
    "concurrent.futures.thread",  # asyncio.to_thread (password hashing, MIME analysis)
    "mailhost.protocols.imap.handlers.session",
    "importlib.metadata",
    "email.parser",
    "email.headerregistry",
    "encodings.idna",
)


def _import_lazy_modules() -> None:
    for name in LAZY_MODULES:
        importlib.import_module(name)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give the data directory to the unprivileged user, since root may have created it."""
    if not root.exists():
        return
    with contextlib.suppress(OSError):
        os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                os.chown(os.path.join(dirpath, name), uid, gid)
