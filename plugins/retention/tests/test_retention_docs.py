"""The README and config.example.toml describe the settings the plugin really has."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

from mailhost_retention.settings import RetentionSettings, Rule

from mailhost.config import build_section

HERE = Path(__file__).resolve().parents[1]
README = (HERE / "README.md").read_text()
EXAMPLE = (HERE.parents[1] / "config.example.toml").read_text()


def validate(data: dict[str, Any]) -> RetentionSettings:
    table = data["plugins"]["retention"]
    settings: RetentionSettings = build_section("doc", "plugins.retention", RetentionSettings,
                                                table)
    return settings


def toml_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def test_readme_lists_every_key_with_its_default() -> None:
    for cls in (RetentionSettings, Rule):
        for field in dataclasses.fields(cls):
            row = re.search(rf"^\| `{field.name}` \| `([^`]*)` \|", README, re.M)
            assert row, f"README has no row for {field.name}"
            default = field.default if field.default_factory is dataclasses.MISSING else []
            assert row.group(1) == toml_literal(default), field.name


def test_readme_worked_example_is_valid() -> None:
    block = re.search(r"### Worked example\n\n```toml\n(.*?)```", README, re.S)
    assert block
    settings = validate(tomllib.loads(block.group(1)))
    assert [rule.label for rule in settings.rules] == ["\\Trash", "\\Junk", "mailing lists"]


def test_example_config_section_uncommented_is_valid() -> None:
    section = EXAMPLE[EXAMPLE.index("# [plugins.retention]"):]
    lines = [line[2:] for line in section.splitlines()
             if re.match(r"# (\[|[a-z_]+ = )", line)]
    settings = validate(tomllib.loads("\n".join(lines)))
    assert settings == RetentionSettings(rules=settings.rules)  # the defaults, as documented
    assert [rule.selector for rule in settings.rules] == ["\\Trash", "\\Junk", "Lists/*"]
    for field in dataclasses.fields(RetentionSettings):
        if field.name != "rules":
            assert f"# {field.name} = " in section, field.name
