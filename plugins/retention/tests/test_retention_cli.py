"""``mailhost retention ...`` as an admin runs it: real processes, exit codes and output."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from mailhost.auth.passwords import hash_password
from mailhost.store.sqlite.store import SqliteStore
from mailhost.testing.server import MailhostTestServer

ALICE, BOB = "alice@example.test", "bob@example.test"
DAY = 86400.0
RULES = '[[plugins.retention.rules]]\nspecial_use = "\\\\Trash"\nmax_age = "30d"\n'


def mailhost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailhost", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def write_config(path: Path, data_dir: Path, extra: str = "") -> Path:
    path.write_text(f'[storage]\ndata_dir = "{data_dir}"\n\n[plugins]\nenabled = ["retention"]\n'
                    f"\n[plugins.retention]\nsweep = false\n{extra}\n{RULES}")
    return path


def seed(data_dir: Path, user: str, mailbox: str, ages_days: Sequence[float],
         special_use: str | None = "\\Trash", add_user: bool = True) -> None:
    """Create the user (optionally) and a mailbox whose messages were saved so long ago."""
    async def go() -> None:
        store = await SqliteStore.open(data_dir)
        try:
            if add_user:
                await store.directory.add_user(user, hash_password("pw"))
            async with store.account(user) as mail:
                if await mail.get_mailbox(mailbox) is None:
                    await mail.create_mailbox(mailbox, special_use)
                for age in ages_days:
                    info, meta = await mail.append(mailbox, b"Subject: x\r\n\r\nbody\r\n")
                    await mail.run(lambda conn, info=info, meta=meta, age=age: conn.execute(
                        "UPDATE message SET savedate = ? WHERE mailbox_id = ? AND uid = ?",
                        (time.time() - age * DAY, info.id, meta.uid)))
        finally:
            await store.close()
    asyncio.run(go())


def uids(data_dir: Path, user: str, mailbox: str) -> list[int]:
    directory = sqlite3.connect(data_dir / "accounts.sqlite")
    try:
        (user_id,) = directory.execute("SELECT id FROM user WHERE address = ?",
                                       (user,)).fetchone()
    finally:
        directory.close()
    db = sqlite3.connect(data_dir / "mail" / f"{user_id}.sqlite")
    try:
        rows = db.execute("SELECT g.uid FROM message g JOIN mailbox m ON m.id = g.mailbox_id "
                          "WHERE m.name = ? ORDER BY g.uid", (mailbox,)).fetchall()
    finally:
        db.close()
    return [row[0] for row in rows]


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    config = write_config(tmp_path / "mailhost.toml", data)
    seed(data, ALICE, "Trash", [40, 1])
    seed(data, BOB, "Trash", [50, 45, 2])
    return config, data


def test_dry_run_then_run_per_user(site: tuple[Path, Path]) -> None:
    config, data = site
    preview = mailhost("retention", "run", "--dry-run", "-c", str(config))
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.splitlines() == [
        f"{ALICE}: would expunge 1",
        "  Trash: rule \\Trash (default, max age 30d): would expunge 1 (by age 1, by count 0): "
        "uids 1",
        f"{BOB}: would expunge 2",
        "  Trash: rule \\Trash (default, max age 30d): would expunge 2 (by age 2, by count 0): "
        "uids 1:2",
        "total: would expunge 3 messages for 2 users",
    ]
    assert uids(data, ALICE, "Trash") == [1, 2] and uids(data, BOB, "Trash") == [1, 2, 3]

    only_alice = mailhost("retention", "-c", str(config), "run", "--user", "ALICE@example.test")
    assert only_alice.returncode == 0, only_alice.stderr
    assert only_alice.stdout.splitlines()[-1] == "total: expunged 1 message for 1 user"
    assert uids(data, ALICE, "Trash") == [2] and uids(data, BOB, "Trash") == [1, 2, 3]

    everyone = mailhost("retention", "run", "-c", str(config))
    assert everyone.returncode == 0 and f"{ALICE}: nothing to expunge" in everyone.stdout
    assert uids(data, BOB, "Trash") == [3]


def test_overrides_hold_and_show(site: tuple[Path, Path]) -> None:
    config, data = site
    c = ("-c", str(config))
    seed(data, ALICE, "Lists/python", [10, 5, 1], special_use=None, add_user=False)

    done = mailhost("retention", "set", ALICE, "--folder", "Lists/*", "--max-count", "1",
                    "--name", "lists", *c)
    assert done.returncode == 0 and done.stdout.strip() == f"{ALICE}: Lists/*: max count 1"
    done = mailhost("retention", "set", ALICE, "--special-use", "\\trash", "--forever", *c)
    assert done.stdout.strip() == (
        f"{ALICE}: \\Trash: keep forever (instead of the default rule)")
    shown = mailhost("retention", "show", ALICE, *c)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        ALICE,
        "  legal hold: off",
        "  rules, first match per folder wins:",
        "    user     Lists/*              max count 1 [lists]",
        "    user     \\Trash               keep forever",
        "  folders:",
        "    INBOX                         0 messages  no rule",
        "    Lists/python                  3 messages  lists (user): max count 1",
        "    Trash                         2 messages  \\Trash (user): keep forever",
    ]

    held = mailhost("retention", "hold", ALICE, "on", "--reason", "case 17", *c)
    assert held.returncode == 0 and "legal hold on since" in held.stdout
    preview = mailhost("retention", "run", "--dry-run", "--user", ALICE, *c)
    assert "legal hold since" in preview.stdout and "(case 17); nothing expires" in preview.stdout
    assert "legal hold: on since" in mailhost("retention", "show", ALICE, *c).stdout
    mailhost("retention", "run", *c)
    assert uids(data, ALICE, "Lists/python") == [1, 2, 3]

    assert mailhost("retention", "hold", ALICE, "off", *c).returncode == 0
    swept = mailhost("retention", "run", "--user", ALICE, *c)
    assert "  Lists/python: rule lists (user, max count 1): expunged 2 (by age 0, by count 2): " \
           "uids 1:2" in swept.stdout.splitlines()
    assert uids(data, ALICE, "Lists/python") == [3] and uids(data, ALICE, "Trash") == [1, 2]

    unset = mailhost("retention", "unset", ALICE, "--special-use", "\\Trash", *c)
    assert unset.returncode == 0 and "own rule for \\Trash removed" in unset.stdout
    mailhost("retention", "run", "--user", ALICE, *c)
    assert uids(data, ALICE, "Trash") == [2]  # the default 30 days again
    assert mailhost("retention", "unset", ALICE, "--all", *c).returncode == 0
    assert "    default  \\Trash" in mailhost("retention", "show", ALICE, *c).stdout


@pytest.mark.parametrize(("args", "message"), [
    (("show", "nobody@example.test"), "no user nobody@example.test"),
    (("run", "--user", "nobody@example.test"), "no user nobody@example.test"),
    (("set", ALICE, "--folder", "x"), "give --max-age and/or --max-count, or --forever"),
    (("set", ALICE, "--folder", "x", "--max-age", "30"), "--max-age: '30' is not a duration"),
    (("set", ALICE, "--special-use", "\\Bin", "--forever"),
     "--special-use: unknown special use \\Bin"),
    (("set", ALICE, "--folder", "x", "--max-age", "1d", "--forever"), "give --max-age"),
    (("unset", ALICE, "--folder", "x"), f"{ALICE} has no own rule for x"),
])
def test_mistakes_end_in_one_line(site: tuple[Path, Path], args: tuple[str, ...],
                                  message: str) -> None:
    config, _ = site
    result = mailhost("retention", *args, "-c", str(config))
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"mailhost: {message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_broken_stored_rules_are_reported(site: tuple[Path, Path]) -> None:
    config, data = site
    db = sqlite3.connect(data / "accounts.sqlite")
    with db:
        db.execute("INSERT INTO user_setting(user_id, namespace, key, value) SELECT id, "
                   "'retention', 'rules', '[{\"folder\": \"x\", \"max_age\": \"soon\"}]' "
                   "FROM user WHERE address = ?", (ALICE,))
    db.close()
    result = mailhost("retention", "run", "-c", str(config))
    assert result.returncode == 1
    assert f"{ALICE}: error: retention overrides of {ALICE}: rules[0].max_age" in result.stdout
    assert f"{BOB}: expunged 2" in result.stdout  # the others are still swept
    shown = mailhost("retention", "show", ALICE, "-c", str(config))
    assert shown.returncode == 1 and f"unset {ALICE} --all" in shown.stderr
    assert mailhost("retention", "unset", ALICE, "--all", "-c", str(config)).returncode == 0
    assert mailhost("retention", "show", ALICE, "-c", str(config)).returncode == 0


def test_config_errors_in_rules_name_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path / "m.toml", tmp_path / "data",
                          '[[plugins.retention.rules]]\nfolder = "Lists/*"\nmax_age = "3 months"\n')
    result = mailhost("check-config", "-c", str(config))
    assert result.returncode == 1
    assert "plugins.retention.rules[0].max_age: '3 months' is not a duration" in result.stderr


def test_cli_hold_reaches_the_running_server(
    mailhost_server_factory: Callable[..., MailhostTestServer], tmp_path: Path,
) -> None:
    server = mailhost_server_factory(
        enabled=["retention"], plugin_settings={"retention": {
            "interval": "0.1s", "first_sweep": "0.1s",
            "rules": [{"special_use": "\\Trash", "max_age": "30d"}]}})
    data = server.config.data_dir
    config = write_config(tmp_path / "m.toml", data)
    server.add_user(ALICE, "pw")
    held = mailhost("retention", "hold", ALICE, "on", "-c", str(config))
    assert held.returncode == 0, held.stderr
    seed(data, ALICE, "Trash", [40, 1], add_user=False)
    time.sleep(1.0)  # about ten scheduled sweeps
    assert server.mailbox_uids(ALICE, "Trash") == [1, 2]
    assert mailhost("retention", "hold", ALICE, "off", "-c", str(config)).returncode == 0
    deadline = time.monotonic() + 10
    while server.mailbox_uids(ALICE, "Trash") != [2] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.mailbox_uids(ALICE, "Trash") == [2]


def test_show_and_run_leave_unused_accounts_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_config(tmp_path / "m.toml", data)
    added = subprocess.run([sys.executable, "-m", "mailhost", "user", "add", ALICE,
                            "--password-stdin", "-c", str(config)], input="pw\n",
                           capture_output=True, text=True, timeout=60, check=False)
    assert added.returncode == 0, added.stderr
    shown = mailhost("retention", "show", ALICE, "-c", str(config))
    assert shown.stdout.splitlines()[-1] == (
        "  folders: none yet (the account has no mail database)")
    assert f"{ALICE}: nothing to expunge" in mailhost("retention", "run", "-c", str(config)).stdout
    assert not (data / "mail").exists() or not any((data / "mail").iterdir())
