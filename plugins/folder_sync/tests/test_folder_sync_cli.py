"""``mailhost folders`` as an admin runs it: real processes, exit codes and output."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from mailhost.app import App
from mailhost.auth.passwords import hash_password
from mailhost.config import load_config

ALICE = "alice@example.test"
BOB = "bob@example.test"


def mailhost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailhost", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def offline(config: Path, action: Callable[[App], Awaitable[None]]) -> None:
    """Change the data with no server running (faster than a process per step)."""
    async def go() -> None:
        app = await App.create(load_config(config))
        try:
            await action(app)
        finally:
            await app.close()
    asyncio.run(go())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailhost.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n\n'
                    '[plugins]\nenabled = ["folder_sync"]\n')

    async def add_users(app: App) -> None:
        for user in (ALICE, BOB):
            await app.store.directory.add_user(user, hash_password("a long passphrase"))
    offline(path, add_users)
    return path


def store_offline(config: Path, user: str, folder: str, count: int) -> None:
    """Put mail in a folder with the server stopped, as an older install would have."""
    async def go(app: App) -> None:
        async with app.store.account(user) as mail:
            await mail.create_mailbox(folder)
            for i in range(count):
                await mail.append(folder, f"Subject: {folder} {i}\r\n\r\nx\r\n".encode())
    offline(config, go)


def test_show_and_ensure(config: Path) -> None:
    before = mailhost("folders", "show", ALICE, "-c", str(config))
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines() == [
        "sent     Sent                 -         missing",
        "drafts   Drafts               -         missing",
        "trash    Trash                -         missing",
        "junk     Junk                 -         missing",
        "archive  Archive              -         missing",
        "pop3     INBOX (configured)",
    ]
    ensured = mailhost("folders", "-c", str(config), "ensure", "--all")
    assert ensured.returncode == 0, ensured.stderr
    assert ensured.stdout.splitlines() == [
        f"{ALICE}: created Sent, Drafts, Trash, Junk, Archive",
        f"{BOB}: created Sent, Drafts, Trash, Junk, Archive",
    ]
    again = mailhost("folders", "ensure", ALICE, "-c", str(config))
    assert again.stdout == f"{ALICE}: nothing to create\n"
    after = mailhost("folders", "show", ALICE, "-c", str(config))
    assert "sent     Sent                 \\Sent     0 messages" in after.stdout


def test_per_user_pop3_folders(config: Path) -> None:
    set_ = mailhost("folders", "pop3", ALICE, "INBOX", "Spam", "-c", str(config))
    assert set_.returncode == 0, set_.stderr
    assert set_.stdout == f"{ALICE}: INBOX, Spam (this user)\n"
    shown = mailhost("folders", "pop3", ALICE, "-c", str(config))
    assert shown.stdout == f"{ALICE}: INBOX, Spam (this user)\n"
    assert "pop3     INBOX (configured)" in mailhost("folders", "show", BOB, "-c",
                                                      str(config)).stdout
    reset = mailhost("folders", "pop3", ALICE, "--default", "-c", str(config))
    assert reset.stdout == f"{ALICE}: INBOX (configured)\n"
    bad = mailhost("folders", "pop3", ALICE, "INBOX", "a/../b", "-c", str(config))
    assert bad.returncode == 1
    assert "pop3_folders[1]" in bad.stderr and "not a usable folder name" in bad.stderr


def test_merge_folds_legacy_alias_folders_into_the_role_folders(config: Path) -> None:
    store_offline(config, ALICE, "Sent Items", 2)
    store_offline(config, ALICE, "Deleted Items", 1)
    store_offline(config, ALICE, "Deleted Items/2019", 1)
    store_offline(config, ALICE, "Projects", 1)
    merged = mailhost("folders", "merge", ALICE, "-c", str(config))
    assert merged.returncode == 0, merged.stderr
    assert sorted(merged.stdout.splitlines()) == [
        f"{ALICE}: Deleted Items -> Trash (1 message; kept: it has subfolders)",
        f"{ALICE}: Sent Items -> Sent (2 messages; deleted)",
    ]
    shown = mailhost("folders", "show", ALICE, "-c", str(config)).stdout
    assert "sent     Sent                 \\Sent     2 messages" in shown
    assert "trash    Trash                \\Trash    1 message" in shown
    assert mailhost("folders", "merge", "--all", "-c", str(config)).stdout == (
        f"{ALICE}: Deleted Items -> Trash (0 messages; kept: it has subfolders)\n"
        f"{BOB}: nothing to merge\n")


@pytest.mark.parametrize(("args", "message"), [
    (("show", "nobody@example.test"), "no user nobody@example.test"),
    (("ensure",), "name the accounts, or give --all"),
    (("merge", ALICE, "--all"), "name the accounts, or give --all"),
    (("pop3", ALICE, "Junk", "--default"), "give folders or --default, not both"),
])
def test_mistakes_are_one_line_errors(config: Path, args: tuple[str, ...],
                                      message: str) -> None:
    result = mailhost("folders", *args, "-c", str(config))
    assert result.returncode == 1
    assert result.stderr == f"mailhost: {message}\n"


def test_the_command_exists_only_with_the_plugin_enabled(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    result = mailhost("folders", "show", ALICE, "-c", str(plain))
    assert result.returncode == 2 and "invalid choice: 'folders'" in result.stderr
