"""The pure policy logic: defaults, overrides, actions, adverts, command-line parsing."""

from __future__ import annotations

import pytest
from mailhost_leave_on_server.policy import Policy, PolicyError, parse_assignment
from mailhost_leave_on_server.settings import Settings

from mailhost.decisions import EXPUNGE, HIDE, KEEP, MARK_SEEN, Pop3Action
from mailhost.protocols.pop3.maildrop import Pop3Advert


def policy(**overrides: object) -> Policy:
    return Policy.effective(Settings(), dict(overrides))


def test_defaults_are_classic_pop3() -> None:
    p = policy()
    assert p.retrieve_action() == KEEP and p.delete_action() == EXPUNGE
    assert p.advert() == Pop3Advert(expire_days=None, login_delay=0)
    assert p.visible(savedate=0.0, enabled_at=100.0)


@pytest.mark.parametrize(("choice", "action"), [
    ("keep", KEEP), ("mark_seen", MARK_SEEN), ("delete", EXPUNGE),
    ("archive", Pop3Action("move", "Archive")), ("trash", Pop3Action("move", "Trash")),
])
def test_retrieve_choices(choice: str, action: Pop3Action) -> None:
    assert policy(on_retrieve=choice).retrieve_action() == action


def test_hide_keeps_mail_for_imap() -> None:
    assert policy(on_delete="hide").delete_action() == HIDE


def test_expire_advert_follows_the_policy() -> None:
    assert policy(on_retrieve="delete").advert().expire_days == 0
    assert policy(on_retrieve="archive").advert().expire_days == 0
    assert policy(keep_days=30).advert().expire_days == 30
    assert policy(keep_days=30).records_downloads()
    assert not policy(keep_days=30, on_retrieve="trash").records_downloads()
    assert policy(login_delay=900).advert().login_delay == 900


def test_since_enabled_scope() -> None:
    p = policy(scope="since_enabled")
    assert not p.visible(savedate=99.0, enabled_at=100.0)
    assert p.visible(savedate=100.0, enabled_at=100.0)
    assert p.visible(savedate=1.0, enabled_at=None)  # never logged in by POP3 yet


def test_unknown_override_keys_are_ignored() -> None:
    assert policy(archive_folder="Elsewhere").archive_folder == "Archive"


@pytest.mark.parametrize(("text", "expected"), [
    ("on_retrieve=archive", ("on_retrieve", "archive")),
    ("keep-days=30", ("keep_days", 30)),
    ("scope=default", ("scope", None)),
])
def test_parse_assignment(text: str, expected: tuple[str, object]) -> None:
    assert parse_assignment(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("on_retrieve", "key=value"),
    ("colour=blue", "unknown setting"),
    ("on_retrieve=shred", "must be one of"),
    ("keep_days=-1", "whole number"),
    ("login_delay=soon", "whole number"),
])
def test_parse_assignment_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_assignment(text)
