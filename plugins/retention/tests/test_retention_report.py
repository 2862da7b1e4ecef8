"""How sweep results read: UID ranges and the per-user, per-folder report lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mailhost_retention.policy import Hold
from mailhost_retention.report import FolderResult, UserResult, format_results, uid_ranges


def expand(ranges: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, ranges.split(",")):
        low, _, high = part.partition(":")
        out.update(range(int(low), int(high or low) + 1))
    return out


def test_uid_ranges() -> None:
    assert uid_ranges([]) == ""
    assert uid_ranges([7]) == "7"
    assert uid_ranges([3, 1, 2, 7, 9, 10, 2]) == "1:3,7,9:10"


@given(st.sets(st.integers(1, 300)))
def test_uid_ranges_round_trip(uids: set[int]) -> None:
    text = uid_ranges(uids)
    assert expand(text) == uids
    assert text.count(",") < len(uids) or not uids


def test_report_lines_for_each_kind_of_outcome() -> None:
    trash = FolderResult("Trash", "\\Trash", "default", "max age 30d", expunged=[1, 2, 3],
                         by_age=2, by_count=1, kept=[5])
    broken = FolderResult("Lists/a", "lists", "user", "max count 5", error="OSError('disk')")
    results = [
        UserResult("alice@example.test", folders=[trash, broken]),
        UserResult("bob@example.test", hold=Hold("", 0.0)),
        UserResult("carol@example.test"),
        UserResult("dave@example.test", error="bad rules"),
    ]
    lines = format_results(results, dry_run=True)
    assert lines == [
        "alice@example.test: would expunge 3",
        "  Trash: rule \\Trash (default, max age 30d): would expunge 3 (by age 2, by count "
        "1): uids 1:3; kept by plugins: uids 5",
        "  Lists/a: rule lists (user, max count 5): error: OSError('disk')",
        "bob@example.test: legal hold since 1970-01-01 00:00 UTC (no reason given); "
        "nothing expires",
        "carol@example.test: nothing to expunge",
        "dave@example.test: error: bad rules",
        "total: would expunge 3 messages for 4 users",
    ]
    assert results[0].failed and results[3].failed and not results[2].failed
    assert format_results([UserResult("x", folders=[FolderResult(
        "T", "t", "user", "max age 1d", expunged=[4], by_age=1)])], dry_run=False)[-1] == (
        "total: expunged 1 message for 1 user")
