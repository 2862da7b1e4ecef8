"""The application object: configuration, store, plugins and authenticator of one server.

Everything a session or a plugin needs hangs off one ``App``, and nothing is module-global, so
a test can run two differently configured servers in one process.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Coroutine, Iterable
from typing import Any

from mailhost.auth.authenticator import Authenticator
from mailhost.config import Config, ConfigError
from mailhost.plugins import PluginHost
from mailhost.protocols.registry import CommandRegistry, ProtocolHandler
from mailhost.store.events import StoreEvent
from mailhost.store.sqlite.store import SqliteStore
from mailhost.tls import load_certificate, server_context

log = logging.getLogger("mailhost")


class App:
    """One configured mail server, without its sockets (see :mod:`mailhost.server`)."""

    def __init__(self, config: Config, store: SqliteStore, plugins: PluginHost) -> None:
        self.config = config
        self.store = store
        self.plugins = plugins
        self.authenticator = Authenticator(self)
        store.observer = self._store_changed
        self._tls_context: ssl.SSLContext | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.protocols: dict[str, ProtocolHandler] = {}
        for handlers in plugins.collect("mailhost_protocols"):
            for handler in handlers:
                self.protocols[handler.name] = handler
        self.pop3_commands: CommandRegistry[Any] = CommandRegistry("pop3")
        self.plugins.pm.hook.mailhost_pop3_commands(registry=self.pop3_commands)
        self.imap_commands: CommandRegistry[Any] = CommandRegistry("imap")
        self.plugins.pm.hook.mailhost_imap_commands(registry=self.imap_commands)
        for i, listener in enumerate(config.listeners):
            if listener.protocol not in self.protocols:
                raise ConfigError(
                    config.source, f"listener[{i}].protocol",
                    f"protocol {listener.protocol!r} is not provided by any loaded plugin",
                    f"use one of {', '.join(sorted(self.protocols))}",
                )

    @classmethod
    async def create(
        cls, config: Config, extra_plugins: Iterable[tuple[str, object]] = ()
    ) -> App:
        """Load plugins, open the store, and let plugins start their background work."""
        plugins = PluginHost(config, extra_plugins)
        store = await SqliteStore.open(config.data_dir)
        try:
            app = cls(config, store, plugins)
        except BaseException:
            await store.close()
            raise
        return app

    async def start(self) -> None:
        await self.plugins.notify("mailhost_startup", app=self)

    @property
    def tls_context(self) -> ssl.SSLContext:
        """The server TLS context, created (and the self-signed pair generated) on first use."""
        if self._tls_context is None:
            self._tls_context = server_context(self.config)
        return self._tls_context

    def reload_certificate(self) -> None:
        if self._tls_context is not None:
            load_certificate(self._tls_context, self.config)

    def _store_changed(self, event: StoreEvent) -> None:
        """Tell plugins about a committed change, without delaying the command that made it."""
        if self.plugins.has_implementations("mailhost_store_event"):
            self.spawn(self.plugins.notify("mailhost_store_event", app=self, event=event))

    def plugin_settings(self, name: str) -> Any:
        """The validated ``[plugins.NAME]`` settings (defaults when the section is absent)."""
        return self.plugins.settings[name]

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run background work that is cancelled when the server closes."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        await self.plugins.notify("mailhost_shutdown", app=self)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.store.close()
