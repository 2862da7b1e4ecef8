"""TOML configuration loaded into frozen dataclasses.

Every section is a dataclass whose fields carry their own documentation, so the loader, the
error messages and the test that compares ``config.example.toml`` with the loader all read one
source of truth. Errors name the file, the key and the fix, because an admin reading a
traceback at 2am is how mail gets lost.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import ipaddress
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PROTOCOLS = ("imap", "pop3", "smtp", "lmtp", "submission")
TlsMode = Literal["none", "starttls", "implicit"]
EVENT_LOOPS = ("uvloop", "asyncio")


class ConfigError(Exception):
    """A configuration problem, phrased for the admin: where, what, and how to fix it."""

    def __init__(self, source: str, key: str, problem: str, fix: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"{source}: {key}: {problem}. Fix: {fix}")


class InvalidValue(ValueError):
    """Raised by a section's ``__post_init__`` for a value its type allows but its meaning does
    not (a duration that does not parse, two keys that exclude each other).

    ``key`` is relative to the section; the loader turns this into a :class:`ConfigError` that
    names the file and the full key, so plugins get the same error messages as the core.
    """

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"{key}: {problem}. Fix: {fix}")


def doc(text: str, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A dataclass field that carries the one-line explanation shown in the example config."""
    if isinstance(default, list | dict):
        value = default
        return field(default_factory=lambda: copy.deepcopy(value), metadata={"doc": text},
                     **kwargs)
    return field(default=default, metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class ServerSection:
    hostname: str = doc("Name this server gives in greetings and Received headers.", "localhost")
    user: str = doc(
        "When started as root, drop to this user after binding ports (empty: stay root).", ""
    )
    max_connections: int = doc("Open connections allowed in total, all listeners together.", 1000)
    max_connections_per_ip: int = doc("Open connections allowed from one client address.", 50)
    shutdown_grace: float = doc(
        "Seconds SIGTERM waits for sessions to finish before closing them.", 10.0
    )
    write_buffer_limit: int = doc(
        "Bytes queued to a client that does not read before it is disconnected.", 4 * 1024 * 1024
    )
    log_level: str = doc("Logging threshold: debug, info, warning or error.", "info")
    event_loop: str = doc(
        "Event loop for mailhost serve: uvloop (faster; asyncio if not installed) or asyncio.",
        "uvloop",
    )


@dataclass(frozen=True)
class StorageSection:
    data_dir: str = doc(
        "Directory for the SQLite databases and the generated certificate.", "./var"
    )


@dataclass(frozen=True)
class TlsSection:
    cert_file: str = doc(
        "PEM certificate chain; empty: a self-signed pair is generated in data_dir.", ""
    )
    key_file: str = doc("PEM private key matching cert_file.", "")
    handshake_timeout: float = doc("Seconds a client gets to finish the TLS handshake.", 15.0)


@dataclass(frozen=True)
class AuthSection:
    allow_cleartext_loopback: bool = doc(
        "Accept passwords without TLS from 127.0.0.0/8 and ::1 (like Dovecot).", True
    )
    failure_delay: float = doc("Seconds a failed login waits before it is answered.", 2.0)
    max_failures: int = doc(
        "Failed logins from one address within failure_window before it is locked out.", 10
    )
    failure_window: float = doc("Seconds over which failed logins are counted.", 60.0)
    lockout: float = doc("Seconds new connections from a locked-out address are refused.", 300.0)
    cache_ttl: float = doc(
        "Seconds a successful password check is remembered (0 disables the cache).", 300.0
    )
    master_users: list[str] = doc(
        "Accounts that may log in as any user with SASL PLAIN authzid.", []
    )


@dataclass(frozen=True)
class Pop3Section:
    auth_timeout: float = doc("Seconds a client may take to log in.", 60.0)
    idle_timeout: float = doc(
        "Seconds of silence after login before disconnecting (>= 600).", 600.0
    )
    max_bad_commands: int = doc("Unknown or malformed commands before disconnecting.", 10)
    reuse_x_uidl: bool = doc(
        "Use a migrated message's X-UIDL header as its UIDL, when it has one.", False
    )


@dataclass(frozen=True)
class ImapSection:
    auth_timeout: float = doc("Seconds a client may take to log in.", 60.0)
    idle_timeout: float = doc(
        "Seconds of silence after login before disconnecting (>= 1800).", 1800.0
    )
    max_line: int = doc("Longest command line, in bytes, literals excluded.", 65536)
    max_literal_preauth: int = doc("Largest literal accepted before login, in bytes.", 8192)
    append_limit: int = doc("Largest message APPEND accepts, in bytes (APPENDLIMIT).", 50_000_000)
    max_bad_commands: int = doc("Malformed commands in a row before disconnecting.", 20)


@dataclass(frozen=True)
class SmtpSection:
    max_message_size: int = doc(
        "Largest message accepted, in bytes (advertised as SIZE).", 50_000_000
    )
    max_recipients: int = doc("Recipients accepted per message; more get 452.", 100)
    idle_timeout: float = doc("Seconds of silence before an SMTP session is closed.", 300.0)


@dataclass(frozen=True)
class RelaySection:
    host: str = doc("Smarthost for mail to remote domains from submission; empty: no relay.", "")
    port: int = doc("Smarthost port.", 587)
    tls: TlsMode = doc("How to secure the smarthost link: none, starttls or implicit.", "starttls")
    username: str = doc("Smarthost login; empty: no AUTH.", "")
    password_file: str = doc("File holding the smarthost password (kept out of this file).", "")
    ca_file: str = doc(
        "PEM file of CAs that may sign the smarthost's certificate (empty: the system store).", ""
    )


@dataclass(frozen=True)
class ListenerSection:
    protocol: str = doc("One of imap, pop3, smtp, lmtp, submission.")
    port: int = doc("TCP port.")
    address: str = doc("Address to bind (127.0.0.1, ::1, 0.0.0.0 ...).", "127.0.0.1")
    tls: TlsMode = doc("none, starttls (offered in the protocol) or implicit (TLS first).", "none")


@dataclass(frozen=True)
class PluginsSection:
    enabled: list[str] = doc(
        "Policy plugins to load by name (entry point group 'mailhost'), in run order.", []
    )


DEFAULT_LISTENERS: tuple[ListenerSection, ...] = (
    ListenerSection(protocol="imap", port=1143, tls="starttls"),
    ListenerSection(protocol="imap", port=1993, tls="implicit"),
    ListenerSection(protocol="pop3", port=1110, tls="starttls"),
    ListenerSection(protocol="pop3", port=1995, tls="implicit"),
    ListenerSection(protocol="smtp", port=2525, tls="starttls"),
    ListenerSection(protocol="submission", port=1587, tls="starttls"),
    ListenerSection(protocol="submission", port=1465, tls="implicit"),
    ListenerSection(protocol="lmtp", port=2424, tls="none"),
)


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``source`` is the file it came from, for error messages."""

    source: str = "<defaults>"
    server: ServerSection = field(default_factory=ServerSection)
    storage: StorageSection = field(default_factory=StorageSection)
    tls: TlsSection = field(default_factory=TlsSection)
    auth: AuthSection = field(default_factory=AuthSection)
    pop3: Pop3Section = field(default_factory=Pop3Section)
    imap: ImapSection = field(default_factory=ImapSection)
    smtp: SmtpSection = field(default_factory=SmtpSection)
    relay: RelaySection = field(default_factory=RelaySection)
    listeners: tuple[ListenerSection, ...] = DEFAULT_LISTENERS
    plugins: PluginsSection = field(default_factory=PluginsSection)
    plugin_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir)


SECTIONS: dict[str, type] = {
    "server": ServerSection,
    "storage": StorageSection,
    "tls": TlsSection,
    "auth": AuthSection,
    "pop3": Pop3Section,
    "imap": ImapSection,
    "smtp": SmtpSection,
    "relay": RelaySection,
}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}s"
    if origin is dict:
        return f"a table of {_type_name(typing.get_args(tp)[1])}s"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {str: "string", int: "integer", float: "number", bool: "true or false"}.get(tp, str(tp))


def _check_value(source: str, key: str, tp: Any, value: Any) -> Any:
    """Return ``value`` converted to ``tp`` or raise a ConfigError that explains the type."""
    origin = typing.get_origin(tp)
    ok: bool
    if origin is Literal:
        ok = value in typing.get_args(tp)
    elif origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            ok = False
        else:
            return [_check_value(source, f"{key}[{i}]", item_tp, v) for i, v in enumerate(value)]
    elif origin is dict:
        key_tp, value_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            ok = False
        else:
            return {_check_value(source, key, key_tp, k): _check_value(source, f"{key}.{k}",
                                                                     value_tp, v)
                    for k, v in value.items()}
    elif dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return build_section(source, key, tp, value)
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, tp)
    if not ok:
        raise ConfigError(
            source, key, f"expected {_type_name(tp)}, got {value!r}",
            f"set {key} to {_type_name(tp)}",
        )
    return value


def build_section(source: str, prefix: str, cls: type, table: Any) -> Any:
    """Validate one TOML table against a section dataclass; shared by plugins' own sections."""
    if not isinstance(table, dict):
        raise ConfigError(source, prefix, "expected a table", f"write it as [{prefix}]")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{prefix}.{key}" if prefix else key
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(fields)}"
            raise ConfigError(source, where, "unknown key", f"remove it ({hint})")
        values[key] = _check_value(source, where, hints[key], value)
    for name, f in fields.items():
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in values and no_default:
            raise ConfigError(
                source, f"{prefix}.{name}", "required key is missing",
                f"add {name} = <{_type_name(hints[name])}>",
            )
    try:
        return cls(**values)
    except InvalidValue as exc:
        where = ".".join(part for part in (prefix, exc.key) if part)
        raise ConfigError(source, where, exc.problem, exc.fix) from None
    except ConfigError as exc:
        # A section's own cross-field check (__post_init__) cannot know the file; add it.
        raise ConfigError(source, exc.key, exc.problem, exc.fix) from None


def _build_listener(source: str, index: int, table: Any) -> ListenerSection:
    where = f"listener[{index}]"
    listener: ListenerSection = build_section(source, where, ListenerSection, table)
    if listener.protocol not in PROTOCOLS:
        raise ConfigError(
            source, f"{where}.protocol", f"unknown protocol {listener.protocol!r}",
            f"use one of {', '.join(PROTOCOLS)}",
        )
    if not 0 <= listener.port <= 65535:
        raise ConfigError(
            source, f"{where}.port", f"{listener.port} is not a TCP port", "use 1-65535"
        )
    try:
        ipaddress.ip_address(listener.address)
    except ValueError:
        raise ConfigError(
            source, f"{where}.address", f"{listener.address!r} is not an IP address",
            "use a literal address such as 127.0.0.1, ::1 or 0.0.0.0",
        ) from None
    return listener


def _check_semantics(config: Config) -> None:
    """Cross-field checks that a type alone cannot express."""
    src = config.source
    if config.pop3.idle_timeout < 600:
        raise ConfigError(src, "pop3.idle_timeout", "RFC 1939 requires at least 600 seconds",
                          "set it to 600 or more")
    if config.imap.idle_timeout < 1800:
        raise ConfigError(src, "imap.idle_timeout", "RFC 3501 requires at least 1800 seconds",
                          "set it to 1800 or more")
    if config.server.log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError(src, "server.log_level", f"unknown level {config.server.log_level!r}",
                          "use debug, info, warning or error")
    if config.server.event_loop not in EVENT_LOOPS:
        raise ConfigError(src, "server.event_loop",
                          f"unknown event loop {config.server.event_loop!r}",
                          f"use {' or '.join(EVENT_LOOPS)}")
    if bool(config.tls.cert_file) != bool(config.tls.key_file):
        raise ConfigError(src, "tls.cert_file", "cert_file and key_file must be set together",
                          "set both, or neither to use a generated self-signed pair")
    for key in ("cert_file", "key_file"):
        path = getattr(config.tls, key)
        if path and not Path(path).is_file():
            raise ConfigError(src, f"tls.{key}", f"file {path!r} does not exist",
                              "point it at a readable PEM file, or remove both to self-sign")
    seen: set[tuple[str, int]] = set()
    for i, listener in enumerate(config.listeners):
        spot = (listener.address, listener.port)
        if listener.port != 0 and spot in seen:  # port 0: the OS picks a free port each time
            raise ConfigError(src, f"listener[{i}].port",
                              f"{listener.address}:{listener.port} is used twice",
                              "give each listener its own address and port")
        seen.add(spot)
    if config.relay.password_file and not Path(config.relay.password_file).is_file():
        raise ConfigError(src, "relay.password_file",
                          f"file {config.relay.password_file!r} does not exist",
                          "create it (mode 0600) or clear the key")
    if config.relay.ca_file and not Path(config.relay.ca_file).is_file():
        raise ConfigError(src, "relay.ca_file", f"file {config.relay.ca_file!r} does not exist",
                          "point it at a PEM file of CA certificates, or clear the key")


def parse_config(data: Mapping[str, Any], source: str) -> Config:
    """Build a Config from parsed TOML; every unknown key or wrong type is a ConfigError."""
    values: dict[str, Any] = {"source": source}
    for key, table in data.items():
        if key in SECTIONS:
            values[key] = build_section(source, key, SECTIONS[key], table)
        elif key == "listener":
            if not isinstance(table, list):
                raise ConfigError(source, "listener", "expected an array of tables",
                                  "write each listener as [[listener]]")
            values["listeners"] = tuple(_build_listener(source, i, t) for i, t in enumerate(table))
        elif key == "plugins":
            if not isinstance(table, dict):
                raise ConfigError(source, "plugins", "expected a table", "write it as [plugins]")
            own = {k: v for k, v in table.items() if not isinstance(v, dict)}
            values["plugins"] = build_section(source, "plugins", PluginsSection, own)
            values["plugin_settings"] = {k: v for k, v in table.items() if isinstance(v, dict)}
        else:
            known = [*SECTIONS, "listener", "plugins"]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean [{close[0]}]?" if close else f"known sections: {', '.join(known)}"
            raise ConfigError(source, key, "unknown section", f"remove it ({hint})")
    config = Config(**values)
    _check_semantics(config)
    return config


def load_config(path: str | Path | None) -> Config:
    """Load ``path``, or the embedded defaults when it is None."""
    if path is None:
        config = Config()
        _check_semantics(config)
        return config
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(source, "-", "file not found",
                          "pass an existing file with -c, or omit -c for the defaults") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "-", f"cannot read the file ({exc})",
                          "make it a readable UTF-8 file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "-", f"not valid TOML ({exc})",
                          "correct the syntax at the position shown") from None
    return parse_config(data, source)


def section_fields(cls: type) -> list[tuple[str, Any, str]]:
    """(name, default, doc) for each key of a section, for docs and the example-config test."""
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        out.append((f.name, default, str(f.metadata.get("doc", ""))))
    return out

