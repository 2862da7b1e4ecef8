"""The ``mailhost`` command as an admin uses it: real processes, exit codes, messages."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mailhost.auth.passwords import verify_password


def mailhost(*args: str, stdin: str | None = None, cwd: Path | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailhost", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailhost.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    return path


def stored_hash(config: Path, address: str) -> str:
    db = sqlite3.connect(config.parent / "data" / "accounts.sqlite")
    try:
        row = db.execute("SELECT password_hash FROM user WHERE address = ?", (address,)).fetchone()
    finally:
        db.close()
    return str(row[0])


def test_user_lifecycle(config: Path) -> None:
    added = mailhost("user", "add", "Alice@Example.TEST", "--password-stdin", "-c", str(config),
                     stdin="first secret\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added alice@example.test"
    assert stored_hash(config, "alice@example.test").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(stored_hash(config, "alice@example.test"), "first secret")

    again = mailhost("user", "add", "alice@example.test", "--password-stdin", "-c", str(config),
                     stdin="x\n")
    assert again.returncode == 1 and "already exists" in again.stderr

    changed = mailhost("user", "passwd", "alice@example.test", "--password-stdin",
                       "-c", str(config), stdin="second secret\n")
    assert changed.returncode == 0, changed.stderr
    assert verify_password(stored_hash(config, "alice@example.test"), "second secret")

    listed = mailhost("user", "list", "-c", str(config))
    assert listed.stdout.split() == ["alice@example.test"]
    assert mailhost("domain", "list", "-c", str(config)).stdout.split() == ["example.test"]

    deleted = mailhost("user", "del", "alice@example.test", "-c", str(config))
    assert deleted.returncode == 0 and mailhost("user", "list", "-c", str(config)).stdout == ""
    missing = mailhost("user", "del", "alice@example.test", "-c", str(config))
    assert missing.returncode == 1 and "no user" in missing.stderr


def test_aliases(config: Path) -> None:
    mailhost("user", "add", "bob@example.test", "--password-stdin", "-c", str(config),
             stdin="pw\n")
    added = mailhost("alias", "add", "Info@example.test", "bob@example.test", "-c", str(config))
    assert added.returncode == 0 and "info@example.test -> bob@example.test" in added.stdout
    assert "info@example.test -> bob@example.test" in mailhost(
        "alias", "list", "-c", str(config)).stdout
    shadow = mailhost("alias", "add", "bob@example.test", "info@example.test", "-c", str(config))
    assert shadow.returncode == 1 and "is a user" in shadow.stderr
    assert mailhost("alias", "del", "info@example.test", "-c", str(config)).returncode == 0
    assert mailhost("alias", "list", "-c", str(config)).stdout == ""


@pytest.mark.parametrize("bad", ["not-an-address", "a@b", "a b@example.test", "x" * 300])
def test_invalid_addresses_are_refused_cleanly(config: Path, bad: str) -> None:
    result = mailhost("user", "add", bad, "--password-stdin", "-c", str(config), stdin="pw\n")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith("mailhost: ")


def test_password_rules(config: Path) -> None:
    long = mailhost("user", "add", "c@example.test", "--password-stdin", "-c", str(config),
                    stdin="x" * 1025 + "\n")
    assert long.returncode == 1 and "longer than 1024" in long.stderr
    empty = mailhost("user", "add", "c@example.test", "--password-stdin", "-c", str(config),
                     stdin="\n")
    assert empty.returncode == 1 and "empty password" in empty.stderr


def test_usage_errors_exit_2() -> None:
    assert mailhost().returncode == 2
    assert mailhost("user").returncode == 2
    assert mailhost("user", "add").returncode == 2
    assert mailhost("frobnicate").returncode == 2
    assert mailhost("--help").returncode == 0
    assert mailhost("user", "add", "--help").returncode == 0


def test_plugins_lists_builtins_and_their_hooks() -> None:
    result = mailhost("plugins")
    assert result.returncode == 0
    assert "mailhost.protocols.pop3.plugin" in result.stdout
    assert "mailhost_pop3_commands" in result.stdout
    assert "mailhost.defaults" in result.stdout and "mailhost_authenticate" in result.stdout


@pytest.mark.parametrize(("text", "key", "fix"), [
    ("[auth]\nfailure_dely = 1\n", "auth.failure_dely", "did you mean 'failure_delay'"),
    ("[server]\nmax_connections = 'lots'\n", "server.max_connections", "integer"),
    ("[tls]\ncert_file = '/nonexistent/c.pem'\nkey_file = '/nonexistent/k.pem'\n",
     "tls.cert_file", "PEM"),
    ("[plugins]\nenabled = ['no_such_plugin']\n", "plugins.enabled[0]", "available"),
])
def test_config_errors_name_file_key_and_fix(tmp_path: Path, text: str, key: str,
                                             fix: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path}/data"\n' + text)
    result = mailhost("check-config", "-c", str(path))
    assert result.returncode == 1
    assert str(path) in result.stderr and key in result.stderr and fix in result.stderr
    assert "Fix:" in result.stderr and "Traceback" not in result.stderr


def test_check_config_accepts_the_defaults_and_generates_a_certificate(tmp_path: Path,
                                                                      config: Path) -> None:
    result = mailhost("check-config", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert (tmp_path / "data" / "selfsigned-cert.pem").exists()
    assert (tmp_path / "data" / "selfsigned-key.pem").stat().st_mode & 0o777 == 0o600


def test_serve_reports_a_port_in_use(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    path = tmp_path / "mailhost.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path}/data"\n'
                    f'[[listener]]\nprotocol = "pop3"\nport = {port}\n')
    try:
        result = mailhost("serve", "-c", str(path))
    finally:
        busy.close()
    assert result.returncode == 1
    assert str(path) in result.stderr and "listener[0].port" in result.stderr
    assert "already in use" in result.stderr and "Fix:" in result.stderr
    assert "Traceback" not in result.stderr
