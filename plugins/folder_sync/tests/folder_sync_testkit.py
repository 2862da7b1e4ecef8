"""Shared by the folder_sync integration tests: a server with the plugin, and logged-in clients.

Not a conftest.py: plugin test folders have no __init__.py, so a second conftest.py in another
plugin would clash; pytest puts this folder on sys.path, so a uniquely named module imports.
"""

from __future__ import annotations

import imaplib
import poplib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from imapclient import IMAPClient

from mailhost.testing.server import MailhostTestServer

ALICE = "alice@example.test"
ALICE_PASSWORD = "alice's long passphrase"
BOB = "bob@example.test"
BOB_PASSWORD = "bob's other passphrase"
PASSWORDS = {ALICE: ALICE_PASSWORD, BOB: BOB_PASSWORD}
TIMEOUT = 10.0


def start(
    factory: Callable[..., MailhostTestServer],
    overrides: dict[str, dict[str, Any]] | None = None, **settings: Any,
) -> MailhostTestServer:
    """A server with folder_sync enabled (``settings`` as [plugins.folder_sync]) and two users.

    ``overrides`` changes core sections, e.g. ``{"pop3": {"reuse_x_uidl": True}}``.
    """
    server = factory(enabled=["folder_sync"], plugin_settings={"folder_sync": settings},
                     overrides=overrides)
    for user, password in PASSWORDS.items():
        server.add_user(user, password)
    return server


def message(subject: str, extra_header: str = "") -> bytes:
    return (f"From: carol@example.org\r\nTo: {ALICE}\r\nSubject: {subject}\r\n{extra_header}"
            f"\r\n{subject} body\r\n").encode()


C = TypeVar("C")


@contextmanager
def _logged_in(client: C, login: Callable[[], object], logout: Callable[[], object]
               ) -> Iterator[C]:
    login()
    try:
        yield client
    finally:
        logout()


def imap(server: MailhostTestServer, user: str = ALICE
         ) -> AbstractContextManager[imaplib.IMAP4_SSL]:
    client = imaplib.IMAP4_SSL("127.0.0.1", server.port("imap", "implicit"),
                               ssl_context=server.client_ssl_context(), timeout=TIMEOUT)
    return _logged_in(client, lambda: client.login(user, PASSWORDS[user]), client.logout)


def imapclient(server: MailhostTestServer, user: str = ALICE
               ) -> AbstractContextManager[IMAPClient]:
    client = IMAPClient("127.0.0.1", port=server.port("imap", "implicit"), ssl=True,
                        ssl_context=server.client_ssl_context(), timeout=TIMEOUT)
    return _logged_in(client, lambda: client.login(user, PASSWORDS[user]), client.logout)


def pop3(server: MailhostTestServer, user: str = ALICE) -> AbstractContextManager[poplib.POP3_SSL]:
    client = poplib.POP3_SSL("127.0.0.1", server.port("pop3", "implicit"),
                             context=server.client_ssl_context(), timeout=TIMEOUT)

    def login() -> None:
        client.user(user)
        client.pass_(PASSWORDS[user])
    return _logged_in(client, login, client.quit)


def names(client: imaplib.IMAP4, command: str = "LIST") -> dict[str, set[str]]:
    """Folder name -> attributes from LIST or LSUB (names are plain in these tests)."""
    typ, data = client.list() if command == "LIST" else client.lsub()
    assert typ == "OK", data
    out: dict[str, set[str]] = {}
    for line in data:
        assert isinstance(line, bytes)
        attributes, _, rest = line.decode().partition(') "/" ')
        out[rest.strip('"')] = set(attributes.lstrip("(").split())
    return out


def response_code(result: tuple[str, list[Any]]) -> tuple[str, str]:
    """("NO", "NONEXISTENT") from imaplib's (typ, [b"[NONEXISTENT] text"])."""
    typ, data = result
    text = data[0].decode() if data and isinstance(data[0], bytes) else ""
    code = text[1:text.index("]")] if text.startswith("[") else ""
    return typ, code.split()[0] if code else ""
