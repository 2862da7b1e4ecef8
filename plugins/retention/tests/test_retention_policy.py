"""The pure retention policy: durations, rule checks, folder matching, message selection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mailhost_retention.durations import parse_duration
from mailhost_retention.policy import (
    AppliedRule,
    Hold,
    effective_rules,
    hold_from_json,
    hold_to_json,
    matches,
    remove_override,
    rule_for,
    rule_to_json,
    rules_from_json,
    select_expired,
    selector_key,
    set_override,
)
from mailhost_retention.settings import RetentionSettings, Rule

from mailhost.config import ConfigError, build_section
from mailhost.store.interface import MessageMeta

DAY = 86400.0
NOW = 1_700_000_000.0


def meta(uid: int, saved_days_ago: float, flags: tuple[str, ...] = ()) -> MessageMeta:
    # INTERNALDATE deliberately far in the past: age must be measured from the save date.
    return MessageMeta(uid=uid, modseq=1, flags=flags, size=100,
                       internaldate=datetime(2001, 1, 1, tzinfo=UTC),
                       savedate=NOW - saved_days_ago * DAY)


# -- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("30d", 30 * DAY), ("12h", 12 * 3600), ("90m", 5400), ("2w", 14 * DAY),
    ("1w2d", 9 * DAY), ("0.5s", 0.5), (" 1D ", DAY), ("1h30m", 5400),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "30 d", "-1d", "1y", "1.d", "1d 2h", "P30D"])
def test_durations_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from("smhdw")), min_size=1,
                max_size=5))
def test_duration_parts_add_up(parts: list[tuple[int, str]]) -> None:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = "".join(f"{amount}{unit}" for amount, unit in parts)
    assert parse_duration(text) == sum(amount * units[unit] for amount, unit in parts)


# -- settings checks --------------------------------------------------------------------------


def settings(table: dict[str, object]) -> RetentionSettings:
    result: RetentionSettings = build_section("m.toml", "plugins.retention", RetentionSettings,
                                              table)
    return result


def config_error(table: dict[str, object]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        settings(table)
    return info.value


def test_settings_defaults_and_canonical_special_use() -> None:
    plain = settings({})
    assert (plain.rules, plain.sweep, plain.interval_seconds, plain.first_sweep_seconds) == (
        [], True, 3600.0, 60.0)
    loaded = settings({"rules": [{"special_use": "\\TRASH", "max_age": "30d"}]})
    assert loaded.rules[0].special_use == "\\Trash"
    assert loaded.rules[0].max_age_seconds == 30 * DAY


@pytest.mark.parametrize(("table", "key", "problem"), [
    ({"rules": [{"max_age": "1d"}]}, "plugins.retention.rules[0].folder", "exactly one"),
    ({"rules": [{"folder": "a", "special_use": "\\Junk"}]},
     "plugins.retention.rules[0].folder", "exactly one"),
    ({"rules": [{"folder": "a"}, {"special_use": "\\Bin"}]},
     "plugins.retention.rules[1].special_use", "unknown special use"),
    ({"rules": [{"folder": "a", "max_age": "30"}]},
     "plugins.retention.rules[0].max_age", "not a duration"),
    ({"rules": [{"folder": "a", "max_age": "0d"}]},
     "plugins.retention.rules[0].max_age", "not longer than zero"),
    ({"rules": [{"folder": "a", "max_count": -1}]},
     "plugins.retention.rules[0].max_count", "negative"),
    ({"interval": "soon"}, "plugins.retention.interval", "not a duration"),
    ({"first_sweep": "0s"}, "plugins.retention.first_sweep", "not longer than zero"),
    ({"rules": [{"folder": "a", "max_days": 3}]}, "plugins.retention.rules[0].max_days",
     "unknown key"),
])
def test_settings_errors_name_the_key(table: dict[str, object], key: str, problem: str) -> None:
    exc = config_error(table)
    assert exc.source == "m.toml" and exc.key == key and problem in exc.problem and exc.fix


# -- matching ---------------------------------------------------------------------------------


def rule(**values: object) -> Rule:
    return Rule(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("Lists/*", "Lists/python", True),
    ("Lists/*", "Lists/python/announce", True),
    ("Lists/*", "Lists", False),
    ("Lists/%", "Lists/python", True),
    ("Lists/%", "Lists/python/announce", False),
    ("*", "INBOX", True),
    ("inbox", "INBOX", True),
    ("inbox/*", "INBOX/old", True),
    ("lists/*", "Lists/python", False),  # names other than INBOX are case-sensitive
    ("Archive.2020", "Archive.2020", True),
    ("Archive.2020", "Archive-2020", False),  # the dot is literal, not a regex
    ("*/Spam", "Clients/Acme/Spam", True),
])
def test_folder_patterns(pattern: str, name: str, expected: bool) -> None:
    assert matches(rule(folder=pattern), name, None) is expected


def test_special_use_matches_any_of_a_mailboxs_uses() -> None:
    trash = rule(special_use="\\Trash")
    assert matches(trash, "Deleted Items", "\\Trash")
    assert matches(trash, "Bin", "\\Archive \\trash")
    assert not matches(trash, "Trash", None)  # by use, not by name
    assert not matches(trash, "Junk", "\\Junk")


def test_user_rules_come_first_and_replace_same_selector_defaults() -> None:
    defaults = [rule(special_use="\\Trash", max_age="30d"), rule(folder="*", max_age="1000d")]
    own = [rule(special_use="\\trash", max_age="7d"), rule(folder="Lists/*")]
    applied = effective_rules(defaults, own)
    assert [(a.source, a.rule.selector) for a in applied] == [
        ("user", "\\Trash"), ("user", "Lists/*"), ("default", "*")]
    assert rule_for(applied, "Trash", "\\Trash") == AppliedRule(own[0], "user")
    match = rule_for(applied, "Lists/a", None)
    assert match is not None and match.rule.keeps_forever
    assert rule_for(applied, "INBOX", None) == AppliedRule(defaults[1], "default")
    assert rule_for(effective_rules(defaults[:1], []), "INBOX", None) is None


# -- selection --------------------------------------------------------------------------------


def test_age_is_measured_from_the_save_date() -> None:
    messages = [meta(1, 40), meta(2, 31), meta(3, 29), meta(4, 0)]
    chosen = select_expired(messages, rule(folder="x", max_age="30d"), NOW)
    assert [(e.message.uid, e.reason) for e in chosen] == [(1, "age"), (2, "age")]


def test_count_expires_the_oldest_saved_not_the_lowest_uid() -> None:
    # UID 5 was copied in long ago (old save date) although its UID is the highest.
    messages = [meta(1, 3), meta(2, 2), meta(3, 1), meta(5, 9)]
    chosen = select_expired(messages, rule(folder="x", max_count=2), NOW)
    assert [(e.message.uid, e.reason) for e in chosen] == [(1, "count"), (5, "count")]


def test_age_and_count_together_and_ties_broken_by_uid() -> None:
    messages = [meta(1, 5), meta(2, 5), meta(3, 5), meta(4, 50)]
    chosen = select_expired(messages, rule(folder="x", max_age="30d", max_count=2), NOW)
    assert [(e.message.uid, e.reason) for e in chosen] == [(1, "count"), (4, "age")]


def test_rule_without_limits_selects_nothing() -> None:
    assert select_expired([meta(1, 10_000)], rule(folder="x"), NOW) == []


@given(
    ages=st.lists(st.floats(0, 100, allow_nan=False), max_size=40),
    max_age=st.one_of(st.none(), st.integers(1, 60)),
    max_count=st.integers(0, 45),
)
def test_selection_is_exactly_too_old_or_beyond_the_newest_n(
    ages: list[float], max_age: int | None, max_count: int,
) -> None:
    messages = [meta(uid, age) for uid, age in enumerate(ages, start=1)]
    chosen = select_expired(
        messages, rule(folder="x", max_age=f"{max_age}d" if max_age else "",
                       max_count=max_count), NOW)
    uids = [e.message.uid for e in chosen]
    assert uids == sorted(set(uids))
    newest = sorted(messages, key=lambda m: (m.savedate, m.uid), reverse=True)
    keep_by_count = {m.uid for m in newest[:max_count]} if max_count else {m.uid for m in messages}
    too_old = {m.uid for m in messages if max_age and m.savedate < NOW - max_age * DAY}
    assert set(uids) == too_old | ({m.uid for m in messages} - keep_by_count)
    assert {e.message.uid for e in chosen if e.reason == "age"} == too_old


# -- overrides and hold as stored -------------------------------------------------------------


def test_set_and_remove_overrides() -> None:
    trash7 = rule(special_use="\\Trash", max_age="7d")
    lists = rule(folder="Lists/*", max_count=10)
    trash3 = rule(special_use="\\trash", max_age="3d")
    rules = set_override(set_override([], trash7), lists)
    assert set_override(rules, trash3) == [trash3, lists]  # replaced in place, order kept
    assert set_override(rules, trash7) == rules
    assert remove_override(rules, selector_key(trash3)) == [lists]
    assert remove_override(rules, ("folder", "Lists/%")) == rules


def test_overrides_round_trip_through_json_and_are_validated() -> None:
    rules = [rule(special_use="\\Junk", max_age="14d", max_count=5, name="junk"),
             rule(folder="Lists/*")]
    stored = [rule_to_json(r) for r in rules]
    assert stored[1] == {"folder": "Lists/*"}
    assert rules_from_json(stored, "alice") == rules
    assert rules_from_json(None, "alice") == []
    with pytest.raises(ConfigError) as info:
        rules_from_json([{"folder": "a"}, {"folder": "b", "max_age": "x"}], "alice's rules")
    assert info.value.source == "alice's rules" and info.value.key == "rules[1].max_age"
    with pytest.raises(ConfigError):
        rules_from_json({"folder": "a"}, "alice")


def test_hold_round_trip_and_unreadable_hold_still_holds() -> None:
    hold = Hold("case 17", NOW)
    assert hold_from_json(hold_to_json(hold), "x") == hold
    assert hold_from_json(None, "x") is None and hold_to_json(None) is None
    for broken in (True, "on", {"reason": 3}, {"reason": "r", "since": True}):
        assert hold_from_json(broken, "alice") is not None
