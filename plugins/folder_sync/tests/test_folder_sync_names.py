"""The naming policy without a store: roles, aliases, hidden and protected folders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mailhost_folder_sync.names import (
    BUILTIN_ALIASES,
    MAX_POP3_FOLDERS,
    ROLES,
    FolderPolicy,
    PolicyError,
    Resolved,
    Role,
    build_policy,
    pop3_folder_list,
)

STANDARD: dict[Role, str] = {"sent": "Sent", "drafts": "Drafts", "trash": "Trash",
                             "junk": "Junk", "archive": "Archive"}


def policy(
    folders: Mapping[Role, str] | None = None, aliases: Mapping[str, Role] | None = None,
    builtin: bool = True, hidden: Iterable[str] = (), protected: Iterable[str] = (),
    protect_special: bool = True,
) -> FolderPolicy:
    return build_policy({**STANDARD, **(folders or {})}, aliases or {}, builtin, hidden,
                        protected, protect_special)


@pytest.mark.parametrize(("client_name", "role", "folder"), [
    ("Sent Items", "sent", "Sent"),
    ("Sent Messages", "sent", "Sent"),
    ("sent items", "sent", "Sent"),
    ("SENT", "sent", "Sent"),
    ("Deleted Items", "trash", "Trash"),
    ("Deleted Messages", "trash", "Trash"),
    ("Junk E-mail", "junk", "Junk"),
    ("Spam", "junk", "Junk"),
    ("Bulk Mail", "junk", "Junk"),
    ("Draft", "drafts", "Drafts"),
    ("Entwürfe", "drafts", "Drafts"),
    ("Archives", "archive", "Archive"),
])
def test_client_names_resolve_to_the_role_folder(client_name: str, role: Role,
                                                  folder: str) -> None:
    assert policy().resolve(client_name) == Resolved(folder, role, alias=client_name)


def test_the_standard_name_is_used_as_given() -> None:
    assert policy().resolve("Sent") == Resolved("Sent", "sent", alias=None)
    assert policy().resolve("Lists/work") == Resolved("Lists/work")


def test_an_alias_as_the_first_levels_of_a_path_is_rewritten() -> None:
    resolved = policy().resolve("Archives/2019/May")
    assert resolved == Resolved("Archive/2019/May", None, alias="Archives")
    assert policy().resolve("Sent/2019") == Resolved("Sent/2019")


def test_inbox_is_never_an_alias() -> None:
    assert policy().resolve("inbox") == Resolved("inbox")
    assert policy().resolve("INBOX/Sent Items") == Resolved("INBOX/Sent Items")
    with pytest.raises(PolicyError) as info:
        policy(aliases={"Inbox": "sent"})
    assert info.value.key == "aliases.Inbox"


def test_admin_aliases_including_a_courier_style_path() -> None:
    custom = policy(aliases={"INBOX/Sent": "sent", "Papierkorb alt": "trash"})
    assert custom.resolve("INBOX/Sent").name == "Sent"
    assert custom.resolve("papierkorb ALT").name == "Trash"


def test_renamed_role_folder_takes_the_standard_name_as_an_alias() -> None:
    german = policy(folders={"sent": "Gesendet"})
    assert german.folders["sent"] == "Gesendet"
    assert german.resolve("Sent").name == "Gesendet"
    assert german.resolve("Sent Items").name == "Gesendet"
    assert german.resolve("Gesendet") == Resolved("Gesendet", "sent")


def test_a_switched_off_role_has_no_folder_and_no_aliases() -> None:
    no_junk = policy(folders={"junk": ""})
    assert "junk" not in no_junk.folders
    assert no_junk.resolve("Spam") == Resolved("Spam")
    with pytest.raises(PolicyError) as info:
        policy(folders={"junk": ""}, aliases={"Spam": "junk"})
    assert info.value.key == "aliases.Spam" and "switched off" in info.value.problem


def test_without_builtin_aliases_only_case_variants_and_admin_aliases_apply() -> None:
    plain = policy(builtin=False, aliases={"Outbox Copies": "sent"})
    assert plain.resolve("Sent Items") == Resolved("Sent Items")
    assert plain.resolve("sent").name == "Sent"
    assert plain.resolve("Outbox Copies").name == "Sent"


@pytest.mark.parametrize(("kwargs", "key", "words"), [
    ({"folders": {"sent": "Mail", "drafts": "mail"}}, "drafts", "already the sent folder"),
    ({"folders": {"trash": "INBOX"}}, "trash", "INBOX"),
    ({"folders": {"archive": "Old/../Archive"}}, "archive", "not a usable folder name"),
    ({"folders": {"sent": "Sent*"}}, "sent", "not a usable folder name"),
    ({"aliases": {"Junk": "trash"}}, "aliases.Junk", "junk folder itself"),
    ({"aliases": {"bad%": "trash"}}, "aliases.bad%", "not a usable folder name"),
    ({"hidden": ["sent"]}, "hidden[0]", "special-use"),
    ({"hidden": ["Quarantine", "INBOX"]}, "hidden[1]", "INBOX"),
    ({"hidden": ["inbox"]}, "hidden[0]", "INBOX"),
    ({"hidden": ["*"]}, "hidden[0]", "would hide INBOX"),
    ({"hidden": ["%"]}, "hidden[0]", "would hide INBOX"),
    ({"hidden": ["I*"]}, "hidden[0]", "would hide INBOX"),
    ({"hidden": ["Se%"]}, "hidden[0]", "special-use folder Sent"),
    ({"hidden": ["mail"], "folders": {"sent": "Mail/Sent"}}, "hidden[0]", "folder Mail/Sent"),
    ({"hidden": [""]}, "hidden[0]", "not a usable folder name"),
    ({"hidden": ["Archive//*"]}, "hidden[0]", "not a usable folder name or pattern"),
    ({"hidden": ["../*"]}, "hidden[0]", "* matches anything"),
    ({"protected": ["a//b"]}, "protected[0]", "not a usable folder name"),
    ({"protected": ["Lists/"]}, "protected[0]", "not a usable folder name"),
])
def test_settings_that_cannot_work_are_refused(kwargs: dict[str, object], key: str,
                                               words: str) -> None:
    with pytest.raises(PolicyError) as info:
        policy(**kwargs)  # type: ignore[arg-type]
    assert info.value.key == key
    assert words in info.value.problem + info.value.fix


def test_a_hidden_name_is_not_an_alias() -> None:
    hiding = policy(hidden=["Deleted Items"])
    assert hiding.resolve("Deleted Items") == Resolved("Deleted Items")
    assert hiding.is_hidden("Deleted Items")
    assert hiding.resolve("Deleted Messages").name == "Trash"
    by_pattern = policy(hidden=["Deleted*"])
    assert by_pattern.resolve("Deleted Items") == Resolved("Deleted Items")
    assert by_pattern.resolve("deleted items") == Resolved("deleted items")  # not hidden
    assert not by_pattern.is_hidden("deleted items")  # names are case-sensitive


def test_a_hidden_folder_hides_its_whole_subtree() -> None:
    hiding = policy(hidden=["Archive/Old"], folders={"archive": "Archiv"})
    assert hiding.is_hidden("Archive/Old")
    assert hiding.is_hidden("Archive/Old/2019")
    assert hiding.is_hidden("Archive/Old/2019/Q1")
    assert not hiding.is_hidden("Archive")
    assert not hiding.is_hidden("Archive/Older")
    assert not hiding.is_hidden("archive/old/2019")  # case-sensitive, like IMAP names
    assert hiding.hidden_below("Archive", ["Archive", "Archive/Old/2019"])
    assert not hiding.hidden_below("Archive", ["Archive", "Archive/New"])
    assert not hiding.hidden_below("Archive/Old", ["Archive/Older/x"])


@pytest.mark.parametrize(("pattern", "hidden", "shown"), [
    ("Lists/*", ["Lists/a", "Lists/a/b"], ["Lists", "Listsx/a"]),
    ("Lists/%", ["Lists/a", "Lists/a/b"], ["Lists"]),  # % stops at /, the subtree follows
    ("%/Private", ["Work/Private", "Home/Private/2019"], ["Private", "Work/Private2"]),
    ("*/Private", ["a/b/c/Private", "a/Private/x"], ["Private"]),
    ("Quarantine*", ["Quarantine", "Quarantine-2019", "Quarantine/x"], ["quarantine"]),
    ("INBOX/Held", ["INBOX/Held", "INBOX/Held/x"], ["INBOX", "INBOX/Other"]),
    ("inbox/held", ["INBOX/held"], ["INBOX", "INBOX/Held"]),  # INBOX in any case, rest exact
])
def test_hidden_patterns(pattern: str, hidden: list[str], shown: list[str]) -> None:
    hiding = policy(hidden=[pattern])
    assert [name for name in hidden if not hiding.is_hidden(name)] == []
    assert [name for name in shown if hiding.is_hidden(name)] == []


def test_inbox_may_be_protected_by_name_or_pattern() -> None:
    """INBOX cannot be deleted anyway; protecting it also keeps RENAME INBOX from emptying it."""
    assert policy(protected=["inbox"]).protection("INBOX") == "INBOX is a protected folder"
    assert policy(protected=["*"]).protection("INBOX") == "INBOX is a protected folder"
    assert policy(protected=["INBOX/*"]).protection("INBOX") is None


def test_protection_covers_role_folders_extra_folders_and_their_parents() -> None:
    protecting = policy(protected=["Lists/family"])
    assert protecting.protection("Sent") == "Sent is a protected folder"
    assert protecting.protection("Lists/family") == "Lists/family is a protected folder"
    assert protecting.protection("Lists") == "Lists contains the protected folder Lists/family"
    assert protecting.protection("Sent Items") is None  # resolved by the caller first
    assert protecting.protection("Listsx") is None
    recreating = policy(protect_special=False)
    assert all(recreating.protection(name) is None for name in STANDARD.values())


def test_protection_by_pattern_covers_matches_and_folders_above_existing_matches() -> None:
    protecting = policy(protected=["Lists/*", "%/Important"], protect_special=False)
    existing = ["Lists", "Lists/family", "Work", "Work/Important", "Home"]
    assert protecting.protection("Lists/family") == "Lists/family is a protected folder"
    assert protecting.protection("Lists/family/2019") == "Lists/family/2019 is a protected folder"
    assert protecting.protection("Work/Important") == "Work/Important is a protected folder"
    assert protecting.protection("Lists", existing) == (
        "Lists contains the protected folder Lists/family")
    assert protecting.protection("Work", existing) == (
        "Work contains the protected folder Work/Important")
    assert protecting.protection("Home", existing) is None  # no Important below it
    assert protecting.protection("Work/Important/x", existing) is None  # % is one level
    assert protecting.protection("lists/family") is None  # case-sensitive
    assert protecting.protection("Lists") is None  # nothing below it exists


def test_every_role_has_builtin_aliases_that_resolve_to_it() -> None:
    default = policy()
    for role in ROLES:
        for name in BUILTIN_ALIASES[role]:
            assert default.resolve(name).name == STANDARD[role], name


def test_pop3_folder_lists_from_the_account_database_are_checked() -> None:
    assert pop3_folder_list(["inbox", "Junk"]) == ["INBOX", "Junk"]
    for bad in ([], "INBOX", None, {"a": 1}, ["INBOX", 3], ["a/../b"],
                ["INBOX"] * (MAX_POP3_FOLDERS + 1)):
        with pytest.raises(PolicyError):
            pop3_folder_list(bad)


segment = st.one_of(
    st.sampled_from([n for names in BUILTIN_ALIASES.values() for n in names]),
    st.sampled_from(["INBOX", "inbox", "Lists", "2019", "sent", "ARCHIVES"]),
    st.text(st.characters(codec="utf-8", exclude_characters="/*%"), min_size=1, max_size=12),
)


@given(st.lists(segment, min_size=1, max_size=4))
def test_resolving_twice_changes_nothing(parts: list[str]) -> None:
    default = policy()
    once = default.resolve("/".join(parts))
    twice = default.resolve(once.name)
    assert twice.name == once.name and twice.alias is None
    assert twice.role == once.role == default.role_of(once.name)
