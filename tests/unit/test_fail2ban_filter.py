"""The fail2ban filter in deploy/ matches the auth failure line the server really logs."""

from __future__ import annotations

import configparser
import logging
import re
from pathlib import Path

import pytest

from mailhost.app import App
from mailhost.auth.authenticator import LoginAttempt
from mailhost.config import parse_config

ROOT = Path(__file__).resolve().parents[2]


def failregex() -> re.Pattern[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "deploy" / "fail2ban" / "filter.d" / "mailhost.conf")
    pattern = parser["Definition"]["failregex"].strip()
    return re.compile(pattern.replace("<HOST>", r"(?P<host>[0-9a-fA-F.:]+)"))


@pytest.mark.parametrize("peer", ["192.0.2.7", "2001:db8::7"])
async def test_filter_matches_the_logged_failure(tmp_path: Path, peer: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config({"storage": {"data_dir": str(tmp_path)},
                           "auth": {"failure_delay": 0.0}}, "<test>")
    app = await App.create(config)
    try:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        with caplog.at_level(logging.WARNING, logger="mailhost.auth"):
            await app.authenticator.login(
                LoginAttempt("eve user@example.test", "guess", "imap", "PLAIN", peer))
        lines = [formatter.format(r) for r in caplog.records if r.name == "mailhost.auth"]
    finally:
        await app.close()
    assert len(lines) == 1
    assert "guess" not in lines[0]  # never the password
    match = failregex().match(lines[0])
    assert match is not None, lines[0]
    assert match.group("host") == peer
