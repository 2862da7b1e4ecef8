"""``mailhost deliver`` as Postfix runs it: a process, stdin, sysexits, next to a live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailhost.decisions import Defer, DeliveryDecision, Reject
from mailhost.delivery import lda
from mailhost.hookspecs import hookimpl
from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, BOB

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = b"From: someone@remote.test\nSubject: via deliver\n\nline one\n.\nlast\n"


def write_config(path: Path, data_dir: str) -> Path:
    path.write_text(f'[storage]\ndata_dir = "{data_dir}"\n'
                    '[server]\nhostname = "mail.example.test"\n')
    return path


def deliver(config: Path, *args: str,
            stdin: bytes = MESSAGE) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mailhost", "deliver", "-c", str(config), *args],
        input=stdin, capture_output=True, timeout=60, env=env, cwd=ROOT, check=False,
    )


def test_exit_codes_and_delivery_next_to_a_running_server(users: MailhostTestServer,
                                                          tmp_path: Path) -> None:
    config = write_config(tmp_path / "mailhost.toml", users.config.storage.data_dir)
    ok = deliver(config, "--to", ALICE, "--from", "someone@remote.test")
    assert ok.returncode == 0, ok.stderr
    [stored] = users.raw_messages(ALICE)  # the server sees what the other process committed
    lines = stored.split(b"\r\n")
    assert lines[0] == b"Return-Path: <someone@remote.test>"
    assert lines[1] == b"Received: by mail.example.test (mailhost deliver)"
    assert stored.endswith(MESSAGE.replace(b"\n", b"\r\n"))

    unknown = deliver(config, "--to", "nobody@example.test")
    assert unknown.returncode == 67 and b"5.1.1" in unknown.stderr
    assert deliver(config, "--to", "x@remote.test").returncode == 67
    assert deliver(config, "--to", ALICE, stdin=b"\x00\x01 not mail").returncode == 65
    assert deliver(config, "--to", ALICE, "--from", "a\rb@x").returncode == 65

    broken = write_config(tmp_path / "broken.toml", data_dir=str(config))  # a file, not a dir
    assert deliver(broken, "--to", ALICE).returncode == 75
    missing = deliver(tmp_path / "absent.toml", "--to", ALICE)
    assert missing.returncode == 75 and b"file not found" in missing.stderr
    assert len(users.raw_messages(ALICE)) == 1


class Policy:
    def __init__(self) -> None:
        self.decisions: dict[str, DeliveryDecision] = {}

    @hookimpl
    def mailhost_delivery_decide(self, app: object, recipient: str, sender: str,
                                 message: bytes, protocol: str) -> DeliveryDecision | None:
        assert protocol == "deliver"
        return self.decisions.get(recipient)


@pytest.fixture
def policy_server(mailhost_server_factory: ServerFactory) -> tuple[MailhostTestServer, Policy]:
    policy = Policy()
    server = mailhost_server_factory(plugins=[("policy", policy)])
    server.add_user(ALICE, "pw")
    server.add_user(BOB, "pw")
    return server, policy


def test_same_pipeline_and_hooks_as_smtp(
        policy_server: tuple[MailhostTestServer, Policy]) -> None:
    server, policy = policy_server
    raw = lda.prepare(MESSAGE, 10_000)
    policy.decisions[ALICE] = Reject("not wanted")
    assert lda.exit_code(server.deliver(ALICE, raw)) == 77
    policy.decisions[ALICE] = Defer("later")
    assert lda.exit_code(server.deliver(ALICE, raw)) == 75
    assert server.raw_messages(ALICE) == []
    assert lda.exit_code(server.deliver(BOB, raw, sender="")) == 0
    assert server.raw_messages(BOB)[0].startswith(b"Return-Path: <>\r\n")
