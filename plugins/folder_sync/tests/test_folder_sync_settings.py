"""[plugins.folder_sync] read from a real TOML file by the core loader and the plugin host."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest
from mailhost_folder_sync.settings import Rule, Settings

from mailhost.config import ConfigError, load_config
from mailhost.plugins import PluginHost

WORKED_EXAMPLE = """
[plugins]
enabled = ["folder_sync"]

[plugins.folder_sync]
sent = "Gesendet"
aliases = { "Gesendete Mails" = "sent", "Alter Papierkorb" = "trash" }
special_folders = "recreate"
hidden = ["Quarantine"]
pop3_folders = ["INBOX", "Junk"]
subaddress_filing = true
subaddress_prefix = "Tags/"

[[plugins.folder_sync.rules]]
header = "X-Spam-Flag"
contains = "YES"
folder = "Junk"

[[plugins.folder_sync.rules]]
header = "List-Id"
folder = "Lists"
"""


def settings_from(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "mailhost.toml"
    path.write_text(text)
    settings: Settings = PluginHost(load_config(path)).settings["folder_sync"]
    return settings


def test_the_worked_example_loads(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, WORKED_EXAMPLE)
    assert settings.rules == [Rule(header="X-Spam-Flag", contains="YES", folder="Junk"),
                              Rule(header="List-Id", folder="Lists")]
    assert settings.pop3_folders == ["INBOX", "Junk"]
    policy = settings.policy
    assert policy.resolve("Sent Items").name == "Gesendet"
    assert policy.resolve("Gesendete Mails").name == "Gesendet"
    assert policy.resolve("alter papierkorb").name == "Trash"
    assert policy.hidden == {"Quarantine"}
    assert policy.protection("Gesendet") is None  # recreate mode


def test_defaults_without_a_section(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, '[plugins]\nenabled = ["folder_sync"]\n')
    assert settings == Settings()
    assert dict(settings.policy.folders) == {"sent": "Sent", "drafts": "Drafts",
                                             "trash": "Trash", "junk": "Junk",
                                             "archive": "Archive"}
    assert settings.policy.protection("Junk") == "Junk is a protected folder"


@pytest.mark.parametrize(("body", "key", "words"), [
    ('special_folders = "keep"', "plugins.folder_sync.special_folders", "'protect'"),
    ('aliases = { "Gesendet" = "outbox" }', "plugins.folder_sync.aliases.Gesendet", "'sent'"),
    ('sent = "Mail"\ndrafts = "MAIL"', "plugins.folder_sync.drafts", "sent folder"),
    ('pop3_folders = []', "plugins.folder_sync.pop3_folders", "at least one"),
    ('pop3_folders = ["INBOX", "../x"]', "plugins.folder_sync.pop3_folders[1]", "usable"),
    ('subaddress_prefix = "*/"', "plugins.folder_sync.subaddress_prefix", "usable"),
    ('hidden = ["Trash"]', "plugins.folder_sync.hidden[0]", "special-use"),
    ('hidden = ["Old", "*"]', "plugins.folder_sync.hidden[1]", "would hide INBOX"),
    ('hidden = ["a//%"]', "plugins.folder_sync.hidden[0]", "pattern"),
    ('protected = ["/*"]', "plugins.folder_sync.protected[0]", "pattern"),
    ('[[plugins.folder_sync.rules]]\nheader = "List-Id:"\nfolder = "Lists"',
     "plugins.folder_sync.rules[0].header", "without the colon"),
    ('[[plugins.folder_sync.rules]]\nheader = "List-Id"\nfolder = "a//b"',
     "plugins.folder_sync.rules[0].folder", "usable"),
    ('[[plugins.folder_sync.rules]]\nheader = "List-Id"',
     "plugins.folder_sync.rules[0].folder", "required"),
    ('sent_folder = "Sent"', "plugins.folder_sync.sent_folder", "unknown key"),
])
def test_mistakes_are_config_errors_naming_the_key(tmp_path: Path, body: str, key: str,
                                                   words: str) -> None:
    text = f'[plugins]\nenabled = ["folder_sync"]\n\n[plugins.folder_sync]\n{body}\n'
    with pytest.raises(ConfigError) as info:
        settings_from(tmp_path, text)
    assert info.value.key == key
    assert info.value.source == str(tmp_path / "mailhost.toml")
    assert words in str(info.value)


def test_config_example_documents_every_key_with_its_default() -> None:
    example = Path(__file__).resolve().parents[3] / "config.example.toml"
    text = example.read_text()
    section = text[text.index("# [plugins.folder_sync]"):]
    uncommented = re.sub(r"^# ?(\[|[a-z_0-9]+ = )", r"\1", section, flags=re.M)
    table = tomllib.loads(uncommented)["plugins"]["folder_sync"]
    rules = table.pop("rules")
    defaults = {f.name: getattr(Settings(), f.name) for f in dataclasses.fields(Settings)}
    assert table == {name: value for name, value in defaults.items() if name != "rules"}
    assert [Rule(**rule) for rule in rules] == [Rule("X-Spam-Flag", "Junk", "YES")]
