"""``mailhost serve`` as a real process: signals, reloads, privilege dropping."""

from __future__ import annotations

import os
import poplib
import pwd
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import RawClient

LISTENER_LINE = re.compile(r"^\s+(\w+)\s+127\.0\.0\.1:(\d+)\s+tls=(\w+)")


class ServeProcess:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailhost", "serve", "-c", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.ports: dict[tuple[str, str], int] = {}
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"serve exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            match = LISTENER_LINE.match(line)
            if match:
                self.ports[(match.group(1), match.group(3))] = int(match.group(2))
            if line.startswith("Stop with Ctrl-C"):
                return
        raise AssertionError("serve did not become ready")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(path: Path, data_dir: Path, ports: list[int], extra: str = "") -> None:
    """A config with POP3 listeners on ``ports``; ``extra`` lines go into [server]."""
    listeners = "".join(
        f'[[listener]]\nprotocol = "pop3"\naddress = "127.0.0.1"\nport = {port}\n'
        'tls = "starttls"\n' for port in ports
    )
    path.write_text(f'[storage]\ndata_dir = "{data_dir}"\n[server]\nshutdown_grace = 5.0\n'
                    f'{extra}{listeners}')


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    config = tmp_path / "mailhost.toml"
    write_config(config, tmp_path / "data", [0])
    process = ServeProcess(config)
    yield process
    process.stop()


def add_user(config: Path, address: str, password: str) -> None:
    subprocess.run([sys.executable, "-m", "mailhost", "user", "add", address, "--password-stdin",
                    "-c", str(config)], input=password, text=True, check=True, timeout=60)


def test_sigterm_lets_sessions_finish_and_refuses_new_ones(served: ServeProcess) -> None:
    add_user(served.config, "alice@example.test", "pw")
    port = served.ports[("pop3", "starttls")]
    session = poplib.POP3("127.0.0.1", port, timeout=10)
    session.user("alice@example.test")
    session.pass_("pw")
    served.signal(signal.SIGTERM)
    time.sleep(0.5)
    with pytest.raises(OSError):  # the listener is closed
        socket.create_connection(("127.0.0.1", port), timeout=2).recv(1)
    assert session.stat() == (0, 0)  # the running session is still served
    session.quit()
    assert served.wait() == 0


def test_sigterm_closes_stragglers_after_the_grace_period(tmp_path: Path) -> None:
    config = tmp_path / "mailhost.toml"
    write_config(config, tmp_path / "data", [0])
    config.write_text(config.read_text().replace("shutdown_grace = 5.0", "shutdown_grace = 0.5"))
    process = ServeProcess(config)
    try:
        idle = RawClient(process.ports[("pop3", "starttls")])
        assert idle.line().startswith(b"+OK")
        started = time.monotonic()
        process.signal(signal.SIGTERM)
        assert process.wait() == 0
        assert time.monotonic() - started < 10
        assert idle.is_closed()
        idle.close()
    finally:
        process.stop()


def test_sighup_reloads_listeners_without_dropping_sessions(tmp_path: Path) -> None:
    config = tmp_path / "mailhost.toml"
    first, second = free_port(), free_port()
    write_config(config, tmp_path / "data", [first])
    process = ServeProcess(config)
    try:
        add_user(config, "alice@example.test", "pw")
        session = poplib.POP3("127.0.0.1", first, timeout=10)
        session.user("alice@example.test")
        session.pass_("pw")
        write_config(config, tmp_path / "data", [second])
        process.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                fresh = poplib.POP3("127.0.0.1", second, timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the new listener never came up")
        fresh.quit()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", first), timeout=2).recv(1)
        assert session.stat() == (0, 0)  # connected before the reload, still served
        session.quit()
    finally:
        process.signal(signal.SIGTERM)
        process.wait()
        process.stop()


def test_reload_with_a_broken_config_keeps_running(served: ServeProcess) -> None:
    served.config.write_text("[server\n")
    served.signal(signal.SIGHUP)
    time.sleep(0.5)
    pop = poplib.POP3("127.0.0.1", served.ports[("pop3", "starttls")], timeout=10)
    pop.quit()
    served.signal(signal.SIGTERM)
    assert served.wait() == 0
    assert "reload failed, keeping the running configuration" in served.stderr()


def test_running_as_root_without_a_user_warns(served: ServeProcess) -> None:
    served.signal(signal.SIGTERM)
    served.wait()
    if os.geteuid() == 0:
        assert "running as root" in served.stderr()


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_drops_privileges_to_the_configured_user(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    data_dir = Path("/tmp") / f"mailhost-priv-{os.getpid()}"  # reachable by nobody
    config = tmp_path / "mailhost.toml"
    write_config(config, data_dir, [0], extra='user = "nobody"\n')  # inside [server]
    add_user(config, "alice@example.test", "pw")  # as root, before the server starts
    process = ServeProcess(config)
    try:
        status = Path(f"/proc/{process.proc.pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uid_line.split()[1:] == [str(nobody.pw_uid)] * 4
        assert (data_dir / "accounts.sqlite").stat().st_uid == nobody.pw_uid
        pop = poplib.POP3("127.0.0.1", process.ports[("pop3", "starttls")], timeout=10)
        pop.user("alice@example.test")
        pop.pass_("pw")  # hashing runs in a worker thread, imported before the drop
        assert pop.stat() == (0, 0)
        pop.quit()
    finally:
        process.signal(signal.SIGTERM)
        process.wait()
        process.stop()
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
