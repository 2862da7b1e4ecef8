"""Which rule applies to a folder and which of its messages that rule expires; no I/O.

Everything here takes plain values (rules, names, :class:`MessageMeta`, a clock reading) so
the decisions that delete mail are unit-tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mailhost.config import ConfigError, build_section
from mailhost.store.interface import MessageMeta
from mailhost.store.names import folder_matches
from mailhost_retention.settings import Rule

Source = Literal["user", "default"]
Reason = Literal["age", "count"]
SelectorKey = tuple[str, str]


@dataclass(frozen=True)
class Hold:
    """A legal hold: while it is on, nothing of the account expires, whatever the rules say."""

    reason: str
    since: float


@dataclass(frozen=True)
class AppliedRule:
    rule: Rule
    source: Source


@dataclass(frozen=True)
class Expiry:
    message: MessageMeta
    reason: Reason


def selector_key(rule: Rule) -> SelectorKey:
    """Identity of a rule's selector: an override replaces the default with the same key."""
    return ("special_use", rule.special_use) if rule.special_use else ("folder", rule.folder)


def effective_rules(defaults: Iterable[Rule], overrides: Iterable[Rule]) -> list[AppliedRule]:
    """The user's rules first, then the defaults they do not replace, in match order."""
    own = [AppliedRule(rule, "user") for rule in overrides]
    replaced = {selector_key(applied.rule) for applied in own}
    return own + [AppliedRule(rule, "default") for rule in defaults
                  if selector_key(rule) not in replaced]


def matches(rule: Rule, name: str, special_use: str | None) -> bool:
    """Does ``rule`` cover the mailbox ``name`` with these (space-separated) special uses?"""
    if rule.special_use:
        uses = {use.lower() for use in (special_use or "").split()}
        return rule.special_use.lower() in uses
    return folder_matches(name, rule.folder)


def rule_for(
    rules: Sequence[AppliedRule], name: str, special_use: str | None
) -> AppliedRule | None:
    """The first rule that covers the mailbox, or None (the mailbox keeps its mail)."""
    return next((applied for applied in rules if matches(applied.rule, name, special_use)), None)


def select_expired(messages: Iterable[MessageMeta], rule: Rule, now: float) -> list[Expiry]:
    """Messages ``rule`` expires at ``now``, by UID; age is measured from the save date.

    Beyond ``max_count`` the oldest-saved go (UID breaks ties, as it follows arrival). A
    message both too old and beyond the count is reported as expired by age.
    """
    ordered = sorted(messages, key=lambda meta: (meta.savedate, meta.uid))
    chosen: dict[int, Expiry] = {}
    if rule.max_count and len(ordered) > rule.max_count:
        for meta in ordered[:len(ordered) - rule.max_count]:
            chosen[meta.uid] = Expiry(meta, "count")
    max_age = rule.max_age_seconds
    if max_age is not None:
        cutoff = now - max_age
        for meta in ordered:
            if meta.savedate < cutoff:
                chosen[meta.uid] = Expiry(meta, "age")
    return [chosen[uid] for uid in sorted(chosen)]


# -- per-user overrides and hold, as stored in the directory (JSON values) -------------------


def set_override(rules: Sequence[Rule], new: Rule) -> list[Rule]:
    """Replace the override with ``new``'s selector in place, or append ``new``."""
    key = selector_key(new)
    out = [new if selector_key(rule) == key else rule for rule in rules]
    return out if new in out else [*out, new]


def remove_override(rules: Sequence[Rule], key: SelectorKey) -> list[Rule]:
    return [rule for rule in rules if selector_key(rule) != key]


def rule_to_json(rule: Rule) -> dict[str, Any]:
    """Only the keys that differ from the defaults, so stored overrides read like the config."""
    values = {"special_use": rule.special_use, "folder": rule.folder, "max_age": rule.max_age,
              "max_count": rule.max_count, "name": rule.name}
    return {key: value for key, value in values.items() if value}


def rules_from_json(value: Any, source: str) -> list[Rule]:
    """Stored overrides back into rules, validated like the config (ConfigError if broken)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(source, "rules", f"expected a list of rules, got {value!r}",
                          "reset them with `mailhost retention unset USER --all`")
    return [build_section(source, f"rules[{i}]", Rule, item) for i, item in enumerate(value)]


def hold_to_json(hold: Hold | None) -> dict[str, Any] | None:
    return None if hold is None else {"reason": hold.reason, "since": hold.since}


def hold_from_json(value: Any, source: str) -> Hold | None:
    if value is None:
        return None
    if (isinstance(value, Mapping) and isinstance(value.get("reason"), str)
            and isinstance(value.get("since"), int | float)
            and not isinstance(value.get("since"), bool)):
        return Hold(value["reason"], float(value["since"]))
    # A hold we cannot read is still a hold: mail is kept rather than risked.
    return Hold(f"unreadable hold record {value!r} in {source}", 0.0)
