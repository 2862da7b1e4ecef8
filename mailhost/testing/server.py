"""A real mailhost server in a background thread, for tests with blocking clients.

Real clients (poplib, imaplib, smtplib, fetchmail in a subprocess) block, so the server runs its
own event loop in a thread and tests stay plain synchronous functions. Everything listens on
127.0.0.1 with ports chosen by the OS, and TLS uses a throwaway CA from ``trustme``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import imaplib
import poplib
import re
import socket
import sqlite3
import ssl
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from mailhost.app import App
from mailhost.auth.passwords import hash_password
from mailhost.config import Config, ListenerSection, parse_config
from mailhost.delivery.lda import deliver_message
from mailhost.delivery.replies import Reply
from mailhost.server import Server, event_loop_factory
from mailhost.store.interface import MessageMeta
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.testing.transcript import parse_transcript

T = TypeVar("T")

LOOPBACK = "127.0.0.1"

# One listener of each kind the tests use, all on OS-chosen ports.
TEST_LISTENERS: tuple[tuple[str, str], ...] = (
    ("pop3", "starttls"),
    ("pop3", "implicit"),
    ("imap", "starttls"),
    ("imap", "implicit"),
    ("smtp", "starttls"),
    ("submission", "starttls"),
    ("submission", "implicit"),
    ("lmtp", "none"),
)


async def cap_at_current_size(mail: SqliteMailStore) -> int:
    """Make an account database refuse to grow (SQLITE_FULL, like a full disk).

    Uses ``PRAGMA max_page_count``, which lasts as long as a connection, so the store applies
    it to every connection it opens until :func:`lift_page_cap`; returns the old limit so the
    caller can give the space back.
    """
    def cap(conn: sqlite3.Connection) -> tuple[int, int]:
        old = conn.execute("PRAGMA max_page_count").fetchone()
        now = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {int(now[0])}")
        return int(old[0]), int(now[0])
    old, now = await mail.run(cap)
    mail.max_page_count = now
    return old


async def lift_page_cap(mail: SqliteMailStore, old: int) -> None:
    """Undo :func:`cap_at_current_size`: the database may grow to ``old`` pages again."""
    mail.max_page_count = None
    await mail.run(lambda conn: conn.execute(f"PRAGMA max_page_count = {int(old)}"))


class ThrowawayCA:
    """A throwaway certificate authority and a server certificate for 127.0.0.1/localhost."""

    def __init__(self, directory: Path) -> None:
        import trustme

        self.ca = trustme.CA()
        # A subject CN as well as SANs: fetchmail checks the CN.
        cert = self.ca.issue_cert("localhost", "127.0.0.1", "::1", common_name="localhost")
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_file = directory / "server-cert.pem"
        self.key_file = directory / "server-key.pem"
        self.ca_file = directory / "ca.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(self.key_file))
        cert.cert_chain_pems[0].write_to_path(str(self.cert_file))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(self.cert_file), append=True)
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return context


def make_config(
    data_dir: Path, ca: ThrowawayCA, *, enabled: Iterable[str] = (),
    plugin_settings: Mapping[str, Mapping[str, Any]] | None = None,
    listeners: Iterable[tuple[str, str]] = TEST_LISTENERS,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """A config for a test server: temp data dir, test CA, fast failure delay, ports 0."""
    data: dict[str, Any] = {
        "storage": {"data_dir": str(data_dir)},
        "tls": {"cert_file": str(ca.cert_file), "key_file": str(ca.key_file)},
        "auth": {"failure_delay": 0.05},
        "server": {"hostname": "mail.example.test"},
        "listener": [
            {"protocol": protocol, "address": LOOPBACK, "port": 0, "tls": tls}
            for protocol, tls in listeners
        ],
        "plugins": {"enabled": list(enabled), **{k: dict(v) for k, v in
                                                   (plugin_settings or {}).items()}},
    }
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    return parse_config(data, "<test config>")


class MailhostTestServer:
    """Start, drive and stop a real server from synchronous test code."""

    def __init__(
        self, config: Config, ca: ThrowawayCA, extra_plugins: Iterable[tuple[str, object]] = (),
        config_path: str | None = None,
    ) -> None:
        self.config = config
        self.ca = ca
        self.extra_plugins = list(extra_plugins)
        self.config_path = config_path
        self.loop = event_loop_factory(config.server.event_loop)()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mailhost-test",
                                        daemon=True)
        self.app: App | None = None
        self.server: Server | None = None
        self.host = LOOPBACK

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> MailhostTestServer:
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        self.app = await App.create(self.config, self.extra_plugins)
        self.server = Server(self.app, self.config_path)
        await self.server.start()

    def stop(self, grace: float = 2.0) -> None:
        if self.server is not None:
            self.run(self.server.stop(grace=grace), timeout=grace + 30)
            self.server = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def __enter__(self) -> MailhostTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    # -- addresses ------------------------------------------------------------------------

    def port(self, protocol: str, tls: str | None = None) -> int:
        assert self.server is not None
        return self.server.port_of(protocol, tls)

    def client_ssl_context(self) -> ssl.SSLContext:
        return self.ca.client_context()

    # -- data -----------------------------------------------------------------------------

    def add_user(self, address: str, password: str) -> None:
        assert self.app is not None
        self.run(self.app.store.directory.add_user(address, hash_password(password)))

    def add_alias(self, alias: str, target: str) -> None:
        assert self.app is not None
        self.run(self.app.store.directory.add_alias(alias, target))

    def with_mail(
        self, address: str, action: Callable[[SqliteMailStore], Coroutine[Any, Any, T]]
    ) -> T:
        """Run ``action(mail_store)`` for one account on the server's loop."""
        assert self.app is not None
        app = self.app

        async def go() -> T:
            async with app.store.account(address) as mail:
                return await action(mail)
        return self.run(go())

    def append(
        self, address: str, raw: bytes, mailbox: str = "INBOX", flags: Iterable[str] = ()
    ) -> MessageMeta:
        """Store a message directly (bypassing SMTP), e.g. to set up a mailbox."""
        async def go(mail: SqliteMailStore) -> MessageMeta:
            if await mail.get_mailbox(mailbox) is None:
                await mail.create_mailbox(mailbox)
            return (await mail.append(mailbox, raw, list(flags)))[1]
        return self.with_mail(address, go)

    @contextlib.contextmanager
    def full_disk(self, address: str) -> Iterator[None]:
        """Within the block, storing anything for ``address`` fails as on a full disk."""
        assert self.app is not None
        app = self.app
        held: Future[asyncio.Event] = Future()

        async def hold() -> None:
            async with app.store.account(address) as mail:  # shared with every session
                old = await cap_at_current_size(mail)
                release = asyncio.Event()
                held.set_result(release)
                await release.wait()
                await lift_page_cap(mail, old)

        task = asyncio.run_coroutine_threadsafe(hold(), self.loop)
        release = held.result(timeout=10)
        try:
            yield
        finally:
            self.loop.call_soon_threadsafe(release.set)
            task.result(timeout=10)

    def deliver(self, to: str, raw: bytes, sender: str = "") -> Reply:
        """Deliver through the real pipeline (hooks, trace headers), as ``mailhost deliver``."""
        assert self.app is not None
        return self.run(deliver_message(self.app, to, raw, sender))

    def raw_messages(self, address: str, mailbox: str = "INBOX") -> list[bytes]:
        """The stored bytes of every message in ``mailbox``, in UID order."""
        async def go(mail: SqliteMailStore) -> list[bytes]:
            info = await mail.get_mailbox(mailbox)
            if info is None:
                return []
            uids = [m.uid for m in await mail.messages(info.id)]
            return [raw async for _uid, raw in mail.iter_raw(info.id, uids)]
        return self.with_mail(address, go)

    def mailbox_uids(self, address: str, mailbox: str = "INBOX") -> list[int]:
        async def go(mail: SqliteMailStore) -> list[int]:
            info = await mail.get_mailbox(mailbox)
            return [] if info is None else [m.uid for m in await mail.messages(info.id)]
        return self.with_mail(address, go)

    def message_flags(self, address: str, mailbox: str = "INBOX") -> dict[int, tuple[str, ...]]:
        async def go(mail: SqliteMailStore) -> dict[int, tuple[str, ...]]:
            info = await mail.get_mailbox(mailbox)
            return {} if info is None else {m.uid: m.flags for m in await mail.messages(info.id)}
        return self.with_mail(address, go)


    # -- clients ----------------------------------------------------------------------------

    def pop3(self, user: str, password: str) -> poplib.POP3_SSL:
        """A poplib client logged in over implicit TLS (the test CA is trusted)."""
        client = poplib.POP3_SSL(self.host, self.port("pop3", "implicit"),
                                 context=self.client_ssl_context(), timeout=30)
        client.user(user)
        client.pass_(password)
        return client

    def imap(self, user: str, password: str) -> imaplib.IMAP4_SSL:
        """An imaplib client logged in over implicit TLS (the test CA is trusted)."""
        client = imaplib.IMAP4_SSL(self.host, self.port("imap", "implicit"),
                                   ssl_context=self.client_ssl_context(), timeout=30)
        client.login(user, password)
        return client

    def transcript(self, protocol: str, script: str, timeout: float = 30.0) -> list[str]:
        """Play an RFC-style ``C:``/``S:`` transcript over a real TLS connection.

        Each ``S:`` line is a regular expression for one whole server line (the greeting is
        the first); ``C:`` lines are sent as they come. Returns the server lines read.
        """
        steps = parse_transcript(script)
        raw = socket.create_connection((self.host, self.port(protocol, "implicit")), timeout)
        seen: list[str] = []
        with self.client_ssl_context().wrap_socket(raw, server_hostname="localhost") as sock:
            reader = sock.makefile("rb")
            for number, (who, text) in enumerate(steps, start=1):
                if who == "C":
                    sock.sendall(text.encode("utf-8") + b"\r\n")
                    continue
                try:
                    line = reader.readline().decode("utf-8", "replace").rstrip("\r\n")
                except TimeoutError:
                    raise AssertionError(f"step {number}: no reply, expected {text!r}") from None
                seen.append(line)
                if not re.fullmatch(text, line):
                    raise AssertionError(f"step {number}: server said {line!r}, expected {text!r}")
            reader.close()
        return seen


def replace_section(config: Config, section: str, **values: Any) -> Config:
    """A copy of ``config`` with some keys of one section changed."""
    current = getattr(config, section)
    return dataclasses.replace(config, **{section: dataclasses.replace(current, **values)})


__all__ = [
    "TEST_LISTENERS",
    "ListenerSection",
    "MailhostTestServer",
    "ThrowawayCA",
    "make_config",
    "replace_section",
]
