"""Each leave-on-server choice end to end: download with a real POP3 client, check over IMAP."""

from __future__ import annotations

import imaplib
import poplib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mailhost_leave_on_server import plugin

from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer

USER = "pat@example.test"
PASSWORD = "pop3 all the way"


def start(factory: ServerFactory, **settings: Any) -> MailhostTestServer:
    server = factory(enabled=["leave_on_server"],
                     plugin_settings={"leave_on_server": settings})
    server.add_user(USER, PASSWORD)
    for n in (1, 2, 3):
        server.append(USER, b"Subject: message %d\r\n\r\nbody %d\r\n" % (n, n))
    return server


def pop3(server: MailhostTestServer) -> poplib.POP3:
    client = poplib.POP3_SSL("127.0.0.1", server.port("pop3", "implicit"),
                             context=server.client_ssl_context(), timeout=10)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def download_all(server: MailhostTestServer, delete: bool = False) -> int:
    client = pop3(server)
    count = client.stat()[0]
    for number in range(1, count + 1):
        client.retr(number)
        if delete:
            client.dele(number)
    client.quit()
    return count


def imap_view(server: MailhostTestServer) -> dict[str, list[str]]:
    """Folder -> flags of each message, as an IMAP client sees the account afterwards."""
    client = imaplib.IMAP4_SSL("127.0.0.1", server.port("imap", "implicit"),
                               ssl_context=server.client_ssl_context(), timeout=10)
    client.login(USER, PASSWORD)
    view: dict[str, list[str]] = {}
    _, boxes = client.list()
    for line in boxes:
        assert isinstance(line, bytes)
        name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
        _, data = client.select(name, readonly=True)
        count = int(data[0] or 0)
        flags: list[str] = []
        if count:
            _, items = client.fetch("1:*", "(FLAGS)")
            # \Recent is IMAP session state (EXAMINE shows it too), not what POP3 did.
            flags = [" ".join(flag for flag in item.decode().split("FLAGS (")[1].split(")")[0]
                              .split() if flag != "\\Recent")
                     for item in items if isinstance(item, bytes)]
        view[name] = flags
    client.logout()
    return view


def test_keep_leaves_mail_untouched(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, on_retrieve="keep")
    assert download_all(server) == 3
    assert imap_view(server)["INBOX"] == ["", "", ""]
    assert download_all(server) == 3  # still all there for the next POP3 run


def test_mark_seen(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, on_retrieve="mark_seen")
    download_all(server)
    assert imap_view(server)["INBOX"] == ["\\Seen"] * 3


@pytest.mark.parametrize(("choice", "folder"), [("archive", "Archive"), ("trash", "Trash")])
def test_downloads_move_to_a_folder(mailhost_server_factory: ServerFactory, choice: str,
                                    folder: str) -> None:
    server = start(mailhost_server_factory, on_retrieve=choice)
    download_all(server)
    view = imap_view(server)
    assert view["INBOX"] == [] and len(view[folder]) == 3
    assert download_all(server) == 0  # POP3 sees only the INBOX


def test_delete_on_retrieve(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, on_retrieve="delete")
    download_all(server)
    assert imap_view(server)["INBOX"] == []


def test_hide_keeps_deleted_mail_for_imap(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, on_delete="hide")
    download_all(server, delete=True)
    assert len(imap_view(server)["INBOX"]) == 3  # IMAP still has them
    assert download_all(server) == 0  # POP3 never sees them again


def test_dele_expunges_by_default(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory)
    download_all(server, delete=True)
    assert imap_view(server)["INBOX"] == []


def test_from_now_on_scope(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, scope="since_enabled")
    assert download_all(server) == 0  # the first POP3 login starts the clock
    server.append(USER, b"Subject: new\r\n\r\nafter enabling\r\n")
    assert download_all(server) == 1


def test_login_delay_is_advertised_and_enforced(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, login_delay=600)
    client = pop3(server)
    assert client.capa()["LOGIN-DELAY"] == ["600"]
    client.quit()
    second = poplib.POP3_SSL("127.0.0.1", server.port("pop3", "implicit"),
                             context=server.client_ssl_context(), timeout=10)
    second.user(USER)
    with pytest.raises(poplib.error_proto, match=r"\[LOGIN-DELAY\]"):
        second.pass_(PASSWORD)
    second.quit()


def test_keep_days_expunges_after_the_period(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, keep_days=7)
    client = pop3(server)
    assert client.capa()["EXPIRE"] == ["7"]
    client.retr(1)
    client.quit()
    assert server.app is not None
    app = server.app
    assert server.run(plugin.sweep(app)) == 0  # too early
    assert server.run(plugin.sweep(app, now=time.time() + 8 * 86400)) == 1
    assert server.mailbox_uids(USER) == [2, 3]


def test_per_user_choice_overrides_the_default(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, on_retrieve="keep")
    assert server.app is not None
    directory = server.app.store.directory
    server.run(directory.set_setting(USER, "leave_on_server", "policy",
                                     {"on_retrieve": "archive"}))
    download_all(server)
    assert len(imap_view(server)["Archive"]) == 3


def test_a_failing_policy_is_a_temporary_error(mailhost_server_factory: ServerFactory) -> None:
    class Broken:
        @staticmethod
        def mailhost_pop3_on_retrieve(app: object, session: object, entry: object) -> None:
            raise RuntimeError("policy backend down")

    from mailhost.hookspecs import hookimpl

    broken = Broken()
    hookimpl(tryfirst=True)(Broken.mailhost_pop3_on_retrieve)
    server = mailhost_server_factory(plugins=[("broken", broken)])
    server.add_user(USER, PASSWORD)
    server.append(USER, b"Subject: x\r\n\r\ny\r\n")
    client = pop3(server)
    client.retr(1)
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
        client.quit()
    assert server.mailbox_uids(USER) == [1]  # nothing lost
    fresh = pop3(server)  # and the maildrop lock was released
    fresh.quit()


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailhost", *args, "-c", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_pop3_policy_cli(tmp_path: Path) -> None:
    config = tmp_path / "mailhost.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path}/data"\n'
                      '[plugins]\nenabled = ["leave_on_server"]\n'
                      '[plugins.leave_on_server]\non_retrieve = "mark_seen"\n')
    added = subprocess.run([sys.executable, "-m", "mailhost", "user", "add", USER,
                            "--password-stdin", "-c", str(config)], input="pw", text=True,
                           capture_output=True, timeout=60, check=False)
    assert added.returncode == 0, added.stderr
    shown = run_cli(config, "pop3-policy", "show", USER)
    assert shown.returncode == 0, shown.stderr
    assert "mark_seen" in shown.stdout and "server default" in shown.stdout
    changed = run_cli(config, "pop3-policy", "set", USER, "on_retrieve=archive", "keep_days=30")
    assert changed.returncode == 0, changed.stderr
    again = run_cli(config, "pop3-policy", "show", USER)  # survives: stored with the account
    assert "archive" in again.stdout and "(user)" in again.stdout and "30" in again.stdout
    bad = run_cli(config, "pop3-policy", "set", USER, "on_retrieve=shred")
    assert bad.returncode == 1 and "must be one of" in bad.stderr
    missing = run_cli(config, "pop3-policy", "show", "nobody@example.test")
    assert missing.returncode == 1 and "no user" in missing.stderr




def test_fetchmail_download_archives_on_the_server(mailhost_server_factory: ServerFactory,
                                                   tmp_path: Path) -> None:
    from mailhost.testing.clients import fetchmail

    server = start(mailhost_server_factory, on_retrieve="archive")
    code, files = fetchmail(server, tmp_path, USER, PASSWORD, keep=True)
    assert code == 0 and len(files) == 3
    view = imap_view(server)
    assert view["INBOX"] == [] and len(view["Archive"]) == 3


def test_archive_follows_the_special_use_folder(mailhost_server_factory: ServerFactory) -> None:
    server = start(mailhost_server_factory, on_retrieve="archive")

    async def localised(mail: Any) -> None:
        await mail.create_mailbox("Archiv", "\\Archive")

    server.with_mail(USER, localised)
    download_all(server)
    view = imap_view(server)
    assert len(view["Archiv"]) == 3 and "Archive" not in view
