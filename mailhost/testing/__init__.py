"""pytest fixtures for mailhost and its plugin authors (loaded through the pytest11 entry point).

``mailhost_server`` is a running server on 127.0.0.1 with ephemeral ports, a temporary data
directory and a throwaway CA; ``mailhost_server_factory`` starts one with chosen plugins and
settings. Tests talk to it with the standard library's clients::

    def test_hello(mailhost_server):
        mailhost_server.add_user("alice@example.test", "secret")
        pop = poplib.POP3("127.0.0.1", mailhost_server.port("pop3", "starttls"))
        pop.user("alice@example.test")
        pop.pass_("secret")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mailhost.testing.server import (
    TEST_LISTENERS,
    MailhostTestServer,
    ThrowawayCA,
    make_config,
)

ServerFactory = Callable[..., MailhostTestServer]


@pytest.fixture
def mailhost_ca(tmp_path: Path) -> ThrowawayCA:
    """A throwaway CA and server certificate for 127.0.0.1."""
    return ThrowawayCA(tmp_path / "tls")


@pytest.fixture
def mailhost_server_factory(
    tmp_path: Path, mailhost_ca: ThrowawayCA
) -> Iterator[ServerFactory]:
    """Start servers with ``factory(enabled=[...], plugin_settings={...}, plugins=[...])``."""
    started: list[MailhostTestServer] = []
    counter = iter(range(1_000_000))

    def factory(
        *, enabled: Iterable[str] = (), plugin_settings: Mapping[str, Any] | None = None,
        plugins: Iterable[tuple[str, object]] = (),
        listeners: Iterable[tuple[str, str]] = TEST_LISTENERS,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        data_dir: Path | None = None,
    ) -> MailhostTestServer:
        directory = data_dir or tmp_path / f"data{next(counter)}"
        config = make_config(directory, mailhost_ca, enabled=enabled,
                             plugin_settings=plugin_settings, listeners=listeners,
                             overrides=overrides)
        server = MailhostTestServer(config, mailhost_ca, plugins).start()
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        if server.server is not None:
            server.stop()


@pytest.fixture
def mailhost_server(mailhost_server_factory: ServerFactory) -> MailhostTestServer:
    """A running server with the default (built-in) plugins only."""
    return mailhost_server_factory()
