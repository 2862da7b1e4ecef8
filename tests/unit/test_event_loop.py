"""The configured event loop of ``mailhost serve``, and the fallback when uvloop is missing."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from mailhost.config import ConfigError, load_config
from mailhost.server import event_loop_factory, run_on_loop


async def _loop_class() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default_and_runs_the_server_loop() -> None:
    pytest.importorskip("uvloop")
    assert load_config(None).server.event_loop == "uvloop"
    assert run_on_loop(_loop_class(), "uvloop").startswith("uvloop")


def test_asyncio_can_be_chosen() -> None:
    assert run_on_loop(_loop_class(), "asyncio").startswith("asyncio")


def test_missing_uvloop_falls_back_to_asyncio_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    with caplog.at_level(logging.WARNING, logger="mailhost.server"):
        factory = event_loop_factory("uvloop")
    assert factory is asyncio.new_event_loop
    assert "uvloop is not installed" in caplog.text


def test_unknown_event_loop_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "mailhost.toml"
    path.write_text('[server]\nevent_loop = "trio"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "server.event_loop" and "uvloop or asyncio" in info.value.fix
