"""Which folder a client means: special-use roles, name aliases, hidden and protected folders.

Pure functions over names, so the whole naming policy is unit-tested without a store. Clients
disagree on what the sent folder is called ("Sent", "Sent Items", "Sent Messages", "Gesendet"),
and each one that finds no folder of its favourite name creates one; after a month an account
has three half-filled sent folders. Resolving every name a client uses through one alias table
keeps them all on the same folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from mailhost.store.interface import InvalidMailboxName
from mailhost.store.names import (
    SEPARATOR,
    canonical_pattern,
    folder_matches,
    matches,
    subtree_match,
    validate_mailbox_name,
)

Role = Literal["sent", "drafts", "trash", "junk", "archive"]
ROLES: Final[tuple[Role, ...]] = ("sent", "drafts", "trash", "junk", "archive")

# RFC 6154 attribute of each role's folder.
SPECIAL_USE: Final[Mapping[Role, str]] = {
    "sent": "\\Sent",
    "drafts": "\\Drafts",
    "trash": "\\Trash",
    "junk": "\\Junk",
    "archive": "\\Archive",
}

# Names mail clients create on their own, in English and the most common client languages
# (Outlook, Apple Mail, Thunderbird, webmailers). Matched case-insensitively.
BUILTIN_ALIASES: Final[Mapping[Role, tuple[str, ...]]] = {
    "sent": (
        "Sent", "Sent Items", "Sent Messages", "Sent Mail", "sent-mail", "Sent Objects",
        "Gesendet", "Gesendete Objekte", "Gesendete Elemente", "Envoyés", "Éléments envoyés",
        "Messages envoyés", "Enviados", "Elementos enviados", "Itens Enviados", "Inviati",
        "Posta inviata", "Verzonden", "Verzonden items", "Skickat", "Skickade objekt",
        "Sendt", "Sendte elementer", "Wysłane", "Отправленные",
    ),
    "drafts": (
        "Drafts", "Draft", "Entwürfe", "Brouillons", "Borradores", "Rascunhos", "Bozze",
        "Concepten", "Utkast", "Kladder", "Wersje robocze", "Черновики",
    ),
    "trash": (
        "Trash", "Deleted Items", "Deleted Messages", "Deleted", "Bin", "Papierkorb",
        "Gelöschte Objekte", "Gelöschte Elemente", "Corbeille", "Éléments supprimés",
        "Papelera", "Elementos eliminados", "Lixeira", "Lixo", "Itens Excluídos", "Cestino",
        "Posta eliminata", "Prullenbak", "Verwijderde items", "Papperskorg", "Borttagna objekt",
        "Papirkurv", "Slettede elementer", "Kosz", "Корзина", "Удаленные",
    ),
    "junk": (
        "Junk", "Junk E-mail", "Junk Email", "Junk Mail", "Junk-E-Mail", "Spam", "Bulk Mail",
        "Bulk", "Spamverdacht", "Courrier indésirable", "Indésirables", "Correo no deseado",
        "Lixo Eletrônico", "Posta indesiderata", "Ongewenste e-mail", "Skräppost",
        "Uønsket e-post", "Wiadomości-śmieci", "Спам", "Нежелательная почта",
    ),
    "archive": (
        "Archive", "Archives", "Archiv", "Archivo", "Arquivo", "Archivio", "Archief", "Arkiv",
        "Archiwum", "Архив",
    ),
}


class PolicyError(ValueError):
    """A setting that cannot work; ``key`` is relative to ``[plugins.folder_sync]``."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class Resolved:
    """The folder a client's name stands for.

    ``alias`` is the part of the client's name that was rewritten ("Sent Items" in
    "Sent Items/2019"), or None when the name is used as given. ``role`` is set when ``name``
    is a role folder itself.
    """

    name: str
    role: Role | None = None
    alias: str | None = None


def valid_folder(key: str, name: str) -> str:
    """``name`` in canonical form, or a PolicyError naming the setting ``key``."""
    try:
        canonical = validate_mailbox_name(name)
    except InvalidMailboxName as exc:
        raise PolicyError(key, f"{name!r} is not a usable folder name ({exc})",
                          "use a plain folder name such as \"Sent\" or \"Lists/work\"") from None
    return canonical


PATTERN_FIX = ("use a folder name or a pattern such as \"Quarantine\" or \"Lists/*\" "
               "(* matches anything, % anything but /)")


def valid_pattern(key: str, pattern: str) -> str:
    """``pattern`` (a folder name, or one with the LIST wildcards ``*`` and ``%``) in canonical
    form, or a PolicyError naming the setting ``key``.

    Checked as the name it would be with each wildcard standing for one letter, so a pattern
    that could only match unusable names ("a//*", "../*") is refused at start-up.
    """
    try:
        validate_mailbox_name(pattern.replace("*", "x").replace("%", "x"))
    except InvalidMailboxName as exc:
        raise PolicyError(key, f"{pattern!r} is not a usable folder name or pattern ({exc})",
                          PATTERN_FIX) from None
    return canonical_pattern("", pattern)


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "%" in pattern


@dataclass(frozen=True)
class FolderPolicy:
    """The naming policy of one server, built once from the settings and then only read."""

    folders: Mapping[Role, str]
    aliases: Mapping[str, Role]  # casefolded alias -> role
    hidden: frozenset[str]  # folder patterns; each hides the folders below its matches too
    protected: frozenset[str]  # folder patterns

    def role_of(self, name: str) -> Role | None:
        """The role whose folder is exactly ``name``."""
        for role, folder in self.folders.items():
            if folder == name:
                return role
        return None

    def resolve(self, name: str) -> Resolved:
        """Rewrite an alias (or an alias as the first levels of a path) to its role folder."""
        if name.upper() == "INBOX":
            return Resolved(name)
        parts = name.split(SEPARATOR)
        for depth in range(len(parts), 0, -1):
            prefix = SEPARATOR.join(parts[:depth])
            role = self.aliases.get(prefix.casefold())
            if role is None:
                continue
            if prefix == self.folders[role]:
                break  # already the standard spelling
            target = SEPARATOR.join([self.folders[role], *parts[depth:]])
            return Resolved(target, self.role_of(target), alias=prefix)
        return self.resolve_literal(name)

    def resolve_literal(self, name: str) -> Resolved:
        """``name`` used as given, with its role if it is a role folder."""
        return Resolved(name, self.role_of(name))

    def is_hidden(self, name: str) -> bool:
        """Is ``name`` hidden, by a pattern matching it or a level above it?"""
        return subtree_match(name, self.hidden) is not None

    def hidden_below(self, name: str, existing: Iterable[str]) -> bool:
        """Would renaming ``name`` move one of the ``existing`` hidden folders below it?"""
        prefix = name + SEPARATOR
        return any(other.startswith(prefix) and self.is_hidden(other) for other in existing)

    def is_protected(self, name: str) -> bool:
        return any(folder_matches(name, pattern) for pattern in self.protected)

    def protection(self, name: str, existing: Iterable[str] = ()) -> str | None:
        """Why ``name`` must not be deleted or renamed away, or None.

        A folder is protected when a pattern matches it, and so is a folder above a protected
        one: among the ``existing`` folders, and for a plain name even before it exists.
        """
        if self.is_protected(name):
            return f"{name} is a protected folder"
        prefix = name + SEPARATOR
        candidates = {*existing, *(p for p in self.protected if not has_wildcard(p))}
        for inner in sorted(candidates):
            if inner.startswith(prefix) and self.is_protected(inner):
                return f"{name} contains the protected folder {inner}"
        return None


def build_policy(
    folders: Mapping[Role, str],
    extra_aliases: Mapping[str, Role],
    builtin_aliases: bool,
    hidden: Iterable[str],
    protected: Iterable[str],
    protect_special: bool,
) -> FolderPolicy:
    """Check the settings against each other and build the lookup tables.

    Precedence, lowest first: built-in aliases, the admin's aliases, the configured folder
    names; a hidden name is never an alias, so hiding a legacy "Deleted Items" folder works.
    """
    enabled: dict[Role, str] = {}
    owner: dict[str, Role] = {}
    for role, name in folders.items():
        if not name:
            continue  # role switched off
        canonical = valid_folder(role, name)
        if canonical == "INBOX":
            raise PolicyError(role, "INBOX cannot be a special-use folder",
                              "choose another name, or \"\" to switch the role off")
        other = owner.get(canonical.casefold())
        if other is not None:
            raise PolicyError(role, f"{name!r} is already the {other} folder",
                              "give each role its own folder name")
        owner[canonical.casefold()] = role
        enabled[role] = canonical
    hidden_patterns = [valid_pattern(f"hidden[{i}]", p) for i, p in enumerate(hidden)]
    for i, pattern in enumerate(hidden_patterns):
        _check_hidden(f"hidden[{i}]", pattern, enabled.values())
    table: dict[str, Role] = {}
    if builtin_aliases:
        for role, names in BUILTIN_ALIASES.items():
            table.update((n.casefold(), role) for n in names if role in enabled)
    for alias, role in extra_aliases.items():
        key = f"aliases.{alias}"
        canonical = valid_folder(key, alias)
        if canonical == "INBOX":
            raise PolicyError(key, "INBOX cannot be an alias", "remove it")
        if role not in enabled:
            raise PolicyError(key, f"the {role} role is switched off",
                              f"set {role} to a folder name, or remove the alias")
        clash = owner.get(canonical.casefold())
        if clash is not None and clash != role:
            raise PolicyError(key, f"{alias!r} is the {clash} folder itself",
                              "an alias cannot name another role's folder")
        table[canonical.casefold()] = role
    table.update(owner)
    for alias in list(table):
        if any(matches(_fold(alias), _fold(pattern)) for pattern in hidden_patterns):
            del table[alias]
    protected_patterns = {valid_pattern(f"protected[{i}]", p) for i, p in enumerate(protected)}
    if protect_special:
        protected_patterns.update(enabled.values())
    return FolderPolicy(enabled, table, frozenset(hidden_patterns), frozenset(protected_patterns))


def _fold(text: str) -> str:
    """A name or pattern compared ignoring case, with INBOX spelled as the store does."""
    return canonical_pattern("", text.casefold())


def _check_hidden(key: str, pattern: str, role_folders: Iterable[str]) -> None:
    """Refuse a ``hidden`` pattern that would hide INBOX or a special-use folder.

    INBOX is where mail is delivered and what POP3 reads: hidden from IMAP it would still
    fill, unseen. Role folders are matched ignoring case, as their other spellings are
    aliases of them.
    """
    if subtree_match("INBOX", [pattern]):
        raise PolicyError(key, f"{pattern!r} would hide INBOX, where mail is delivered",
                          "hide other folders only (INBOX/... subfolders may be hidden)")
    folded = _fold(pattern)
    for folder in role_folders:
        if subtree_match(_fold(folder), [folded]):
            raise PolicyError(key, f"{pattern!r} would hide the special-use folder {folder}",
                              "hide only folders clients should never see")


MAX_POP3_FOLDERS = 32


def pop3_folder_list(value: object) -> list[str]:
    """A per-user POP3 folder list (stored as JSON with the account), checked before use.

    The value comes from the account database, not from the validated config, so it is
    checked each time: a bad one must not break POP3 for that user.
    """
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_POP3_FOLDERS:
        raise PolicyError("pop3_folders", f"{value!r} is not a list of 1 to "
                          f"{MAX_POP3_FOLDERS} folder names", "give at least one folder")
    names: list[str] = []
    for i, name in enumerate(value):
        key = f"pop3_folders[{i}]"
        if not isinstance(name, str):
            raise PolicyError(key, f"{name!r} is not a folder name", "use a string")
        names.append(valid_folder(key, name))
    return names
