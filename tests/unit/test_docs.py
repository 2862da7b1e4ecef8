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
