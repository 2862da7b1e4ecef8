"""The config loader, its error messages, and agreement with config.example.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailhost.config import (
    DEFAULT_LISTENERS,
    SECTIONS,
    ConfigError,
    InvalidValue,
    ListenerSection,
    PluginsSection,
    build_section,
    doc,
    load_config,
    parse_config,
    section_fields,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailhost.toml"
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


def test_defaults_need_no_file() -> None:
    config = load_config(None)
    assert config.data_dir == Path("./var")
    assert {listener.address for listener in config.listeners} == {"127.0.0.1"}
    assert all(listener.port > 1024 for listener in config.listeners)
    assert config.auth.allow_cleartext_loopback is True


def test_unknown_key_names_file_key_and_fix(tmp_path: Path) -> None:
    exc = error_for(tmp_path, "[auth]\nfailure_dely = 2\n")
    text = str(exc)
    assert str(tmp_path / "mailhost.toml") in text
    assert "auth.failure_dely" in text
    assert "did you mean 'failure_delay'" in text


def test_unknown_section(tmp_path: Path) -> None:
    exc = error_for(tmp_path, "[tsl]\ncert_file = 'x'\n")
    assert exc.key == "tsl" and "[tls]" in exc.fix


def test_wrong_type(tmp_path: Path) -> None:
    exc = error_for(tmp_path, "[server]\nmax_connections = 'many'\n")
    assert exc.key == "server.max_connections"
    assert "expected integer" in exc.problem and "'many'" in exc.problem
    assert "integer" in exc.fix


def test_booleans_are_not_integers(tmp_path: Path) -> None:
    exc = error_for(tmp_path, "[server]\nmax_connections = true\n")
    assert exc.key == "server.max_connections"


def test_missing_cert_file(tmp_path: Path) -> None:
    exc = error_for(tmp_path, f"[tls]\ncert_file = '{tmp_path}/nope.pem'\n"
                              f"key_file = '{tmp_path}/nope.key'\n")
    assert exc.key == "tls.cert_file"
    assert "does not exist" in exc.problem and "PEM" in exc.fix


def test_listener_errors(tmp_path: Path) -> None:
    exc = error_for(tmp_path, "[[listener]]\nprotocol = 'pop4'\nport = 110\n")
    assert exc.key == "listener[0].protocol" and "pop3" in exc.fix
    exc = error_for(tmp_path, "[[listener]]\nprotocol = 'pop3'\nport = 70000\n")
    assert exc.key == "listener[0].port"
    exc = error_for(tmp_path, "[[listener]]\nprotocol = 'pop3'\n")
    assert exc.key == "listener[0].port" and "required" in exc.problem
    exc = error_for(tmp_path, "[[listener]]\nprotocol = 'pop3'\nport = 1\ntls = 'maybe'\n")
    assert exc.key == "listener[0].tls" and "'starttls'" in exc.problem


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    exc = error_for(tmp_path, "[server\n")
    assert "not valid TOML" in exc.problem
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.toml")
    assert "file not found" in info.value.problem


@dataclass(frozen=True)
class _Range:
    low: int = doc("Lower bound.", 0)
    high: int = doc("Upper bound.", 10)

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ConfigError("", "plugins.range.low", "low is above high", "swap them")


def test_a_sections_own_check_is_reported_with_the_file() -> None:
    assert build_section("mailhost.toml", "plugins.range", _Range, {"low": 3}) == _Range(3)
    with pytest.raises(ConfigError) as info:
        build_section("mailhost.toml", "plugins.range", _Range, {"low": 11})
    assert str(info.value) == ("mailhost.toml: plugins.range.low: low is above high. "
                               "Fix: swap them")


def test_rfc_minimum_timeouts(tmp_path: Path) -> None:
    exc = error_for(tmp_path, "[pop3]\nidle_timeout = 60\n")
    assert exc.key == "pop3.idle_timeout" and "600" in exc.fix


def _example_keys() -> set[str]:
    data = tomllib.loads(EXAMPLE.read_text())
    keys: set[str] = set()
    for section, table in data.items():
        if section == "listener":
            for listener in table:
                keys.update(f"listener.{key}" for key in listener)
        elif section == "plugins":
            for key, value in table.items():
                if isinstance(value, dict):
                    keys.update(f"plugins.{key}.{sub}" for sub in value)
                else:
                    keys.add(f"plugins.{key}")
        else:
            keys.update(f"{section}.{key}" for key in table)
    return keys


def _loader_keys() -> set[str]:
    keys = {f"{name}.{key}" for name, cls in SECTIONS.items() for key, *_ in section_fields(cls)}
    keys |= {f"listener.{key}" for key, *_ in section_fields(ListenerSection)}
    keys |= {f"plugins.{key}" for key, *_ in section_fields(PluginsSection)}
    return keys


def test_example_documents_every_core_key_and_nothing_else() -> None:
    example = {k for k in _example_keys() if k.count(".") == 1}
    loader = _loader_keys()
    assert loader - example == set(), "keys the loader knows but the example omits"
    assert example - loader == set(), "keys in the example the loader does not know"


def test_example_comments_every_key() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if "=" in stripped and not stripped.startswith("#") and not stripped.startswith("["):
            assert lines[number - 1].strip().startswith("#"), f"no comment above: {line}"


def test_example_parses_with_the_core_loader(tmp_path: Path) -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    data.get("plugins", {})["enabled"] = []
    plugin_sections = {k for k, v in data.get("plugins", {}).items() if isinstance(v, dict)}
    for key in plugin_sections:
        del data["plugins"][key]
    data.pop("tls", None)
    config = parse_config(data, str(EXAMPLE))
    assert config.listeners


@dataclass(frozen=True)
class _Window:
    low: int = doc("Lower bound.", 0)
    high: int = doc("Upper bound.", 10)

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise InvalidValue("low", f"{self.low} is above high ({self.high})",
                               "make low at most high")


@dataclass(frozen=True)
class _Windows:
    windows: list[_Window] = doc("Some windows.", [])


def test_post_init_checks_become_config_errors_naming_the_nested_key() -> None:
    ok = build_section("f.toml", "plugins.demo", _Windows, {"windows": [{"low": 1}]})
    assert ok == _Windows([_Window(1, 10)])
    with pytest.raises(ConfigError) as info:
        build_section("f.toml", "plugins.demo", _Windows,
                      {"windows": [{"low": 1}, {"low": 5, "high": 2}]})
    exc = info.value
    assert (exc.source, exc.key) == ("f.toml", "plugins.demo.windows[1].low")
    assert "5 is above high (2)" in exc.problem and exc.fix == "make low at most high"


def test_example_listeners_are_the_defaults() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    assert tuple(ListenerSection(**table) for table in data["listener"]) == DEFAULT_LISTENERS
    assert {listener.protocol for listener in DEFAULT_LISTENERS} >= {
        "pop3", "smtp", "submission", "lmtp"}


def test_relay_ca_file_must_exist(tmp_path: Path) -> None:
    exc = error_for(tmp_path, f"[relay]\nca_file = '{tmp_path}/none.pem'\n")
    assert exc.key == "relay.ca_file" and "does not exist" in exc.problem


def test_the_deploy_config_is_valid(tmp_path: Path) -> None:
    data = tomllib.loads((ROOT / "deploy" / "mailhost.toml").read_text())
    data.pop("tls")  # Let's Encrypt paths of a real host
    data["relay"].pop("password_file")  # a secret of the real host
    data["storage"]["data_dir"] = str(tmp_path)
    config = parse_config(data, "deploy/mailhost.toml")
    assert config.server.user == "mailhost"
    assert {listener.port for listener in config.listeners} == {25, 110, 143, 465, 587, 993, 995}
