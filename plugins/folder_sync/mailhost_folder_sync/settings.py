"""``[plugins.folder_sync]``: validated by the core loader like any core section.

The cross-checks a type cannot express (two roles sharing a folder, an alias naming another
role's folder, a rule filing into an unusable name) run in ``__post_init__`` and fail as config
errors at load time, not as temporary delivery failures at 3 am.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailhost.config import ConfigError, doc
from mailhost_folder_sync import NAME
from mailhost_folder_sync.names import (
    FolderPolicy,
    PolicyError,
    Role,
    build_policy,
    pop3_folder_list,
    valid_folder,
)

SECTION = f"plugins.{NAME}"


@dataclass(frozen=True)
class Rule:
    """One delivery rule: mail whose ``header`` contains ``contains`` is filed in ``folder``."""

    header: str = doc("Header field to look at, e.g. \"List-Id\" or \"X-Spam-Flag\".")
    folder: str = doc("Folder to file matching mail in (created if missing; aliases apply).")
    contains: str = doc(
        "Text the header must contain, case-insensitively; empty: the header is present.", ""
    )


@dataclass(frozen=True)
class Settings:
    sent: str = doc("Folder for sent mail (\\Sent); \"\" switches the role off.", "Sent")
    drafts: str = doc("Folder for drafts (\\Drafts); \"\" switches the role off.", "Drafts")
    trash: str = doc("Folder for deleted mail (\\Trash); \"\" switches the role off.", "Trash")
    junk: str = doc("Folder for spam (\\Junk); \"\" switches the role off.", "Junk")
    archive: str = doc("Folder for archived mail (\\Archive); \"\" switches it off.", "Archive")
    create_on_login: bool = doc(
        "Create (and subscribe) missing special-use folders when a user logs in.", True
    )
    create_on_delivery: bool = doc(
        "Create missing special-use folders when mail is delivered to a user.", True
    )
    builtin_aliases: bool = doc(
        "Map the usual client names (Sent Items, Deleted Messages, Spam, ...) onto the roles.",
        True,
    )
    aliases: dict[str, Role] = doc(
        "More names mapped onto a role, e.g. { \"Gesendet\" = \"sent\" }.", {}
    )
    special_folders: Literal["protect", "recreate"] = doc(
        "protect: DELETE/RENAME of a special-use folder is refused; recreate: allowed, and "
        "the folder comes back on the next login or delivery.", "protect",
    )
    protected: list[str] = doc(
        "More folders that cannot be deleted or renamed, nor the folders above them: names or "
        "patterns (* anything, % anything but /), e.g. [\"Clients/*\"].", []
    )
    hidden: list[str] = doc(
        "Folders left out of LIST/LSUB/STATUS that no IMAP command can open, with everything "
        "below them: names or patterns, e.g. [\"Quarantine\", \"%/Private\"]; not INBOX.", []
    )
    pop3_folders: list[str] = doc(
        "Folders merged into the POP3 view, in order (e.g. [\"INBOX\", \"Junk\"]).", ["INBOX"]
    )
    pop3_per_user: bool = doc(
        "Honour a per-user POP3 folder list set with `mailhost folders pop3`.", True
    )
    rules: list[Rule] = doc(
        "Delivery rules, [[plugins.folder_sync.rules]] tables; the first match wins.", []
    )
    subaddress_filing: bool = doc(
        "File mail for user+tag@domain into the folder named by the tag.", False
    )
    subaddress_prefix: str = doc(
        "Prefix of tag folders, e.g. \"Tags/\" files alice+shop@ in Tags/shop.", ""
    )
    subaddress_create: bool = doc(
        "Create a tag's folder when missing; false: unknown tags go to INBOX.", True
    )

    def __post_init__(self) -> None:
        try:
            policy = build_policy(
                {"sent": self.sent, "drafts": self.drafts, "trash": self.trash,
                 "junk": self.junk, "archive": self.archive},
                self.aliases, self.builtin_aliases, self.hidden, self.protected,
                protect_special=self.special_folders == "protect",
            )
            for i, rule in enumerate(self.rules):
                if not rule.header or ":" in rule.header or " " in rule.header:
                    raise PolicyError(f"rules[{i}].header", f"{rule.header!r} is not a "
                                      "header field name", "write the name without the colon")
                valid_folder(f"rules[{i}].folder", rule.folder)
            pop3_folder_list(self.pop3_folders)
            if self.subaddress_prefix:
                valid_folder("subaddress_prefix", self.subaddress_prefix + "tag")
        except PolicyError as exc:
            # The core's build_section puts the file name in.
            raise ConfigError("", f"{SECTION}.{exc.key}", exc.problem, exc.fix) from None
        # Not a field: the loader must not offer it as a key. Frozen, so set it the hard way.
        object.__setattr__(self, "_policy", policy)

    @property
    def policy(self) -> FolderPolicy:
        """The naming policy these settings describe, built and checked once."""
        policy: FolderPolicy = self.__dict__["_policy"]
        return policy

