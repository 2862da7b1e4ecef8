"""Docs that cannot drift: every hook is documented with its kind and parameters."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from mailhost import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS_DOC = (ROOT / "docs" / "hooks.md").read_text()
SPECS = {name: fn for name, fn in vars(hookspecs).items()
         if name.startswith("mailhost_") and callable(fn)}


def section(name: str) -> str:
    match = re.search(rf"^### `{name}`\n(.*?)(?=^### |\Z)", HOOKS_DOC, re.S | re.M)
    assert match, f"docs/hooks.md has no section for {name}"
    return match.group(1)


def kind_in_docstring(fn: object) -> str:
    match = re.search(r"\*\*(notify|collect|decide)\*\*", inspect.getdoc(fn) or "")
    assert match, f"{fn} docstring does not say notify, collect or decide"
    return match.group(1)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_documented_with_its_kind_and_parameters(name: str) -> None:
    text = section(name)
    assert f"**{kind_in_docstring(SPECS[name])}**" in text.splitlines()[0]
    params = list(inspect.signature(SPECS[name]).parameters)
    assert f"`{name}({', '.join(params)})" in text, f"signature of {name} differs"
    assert "```python" in text, f"{name} has no example"


def test_no_documented_hook_is_missing_from_the_specs() -> None:
    documented = set(re.findall(r"^### `(mailhost_\w+)`", HOOKS_DOC, re.M))
    assert documented == set(SPECS)


def test_tutorial_code_is_the_tested_example_code() -> None:
    """Every block marked ``<!-- from: FILE -->`` in writing-plugins.md is in FILE verbatim."""
    tutorial = (ROOT / "docs" / "writing-plugins.md").read_text()
    blocks = re.findall(r"<!-- from: (\S+) -->\n```python\n(.*?)```", tutorial, re.S)
    assert len(blocks) >= 3
    for path, code in blocks:
        assert code.strip() in (ROOT / path).read_text(), f"tutorial block drifted from {path}"


def toml_blocks(path: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", path.read_text(), re.S)


DOCUMENTS_WITH_CONFIG = [ROOT / "README.md", *sorted(ROOT.glob("plugins/*/README.md")),
                         ROOT / "docs" / "writing-plugins.md"]


@pytest.mark.parametrize("path", DOCUMENTS_WITH_CONFIG, ids=lambda p: str(p.relative_to(ROOT)))
def test_config_snippets_in_the_docs_are_valid(path: Path, tmp_path: Path) -> None:
    """Every ```toml block a user might copy loads, with its plugins' settings validated."""
    import tomllib

    from mailhost.config import parse_config
    from mailhost.plugins import PluginHost, available_plugins

    installed = set(available_plugins())
    for block in toml_blocks(path):
        data = tomllib.loads(block)
        if "project" in data:
            continue  # a packaging example (pyproject.toml), not server configuration
        plugins = data.setdefault("plugins", {})
        named = {k for k, v in plugins.items() if isinstance(v, dict)}
        plugins["enabled"] = sorted((set(plugins.get("enabled", [])) | named) & installed)
        for name in named - installed:
            del plugins[name]  # a tutorial plugin that is not installed here
        data.pop("tls", None)  # certificate paths of a real host
        data.setdefault("storage", {})["data_dir"] = str(tmp_path)
        PluginHost(parse_config(data, str(path)))
