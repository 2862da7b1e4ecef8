"""folder_sync: one set of folders every client of an account agrees on.

The policy itself lives in small pure modules (:mod:`.names` for special-use names, aliases,
hidden and protected folders; :mod:`.filing` for delivery rules) so it can be tested without a
server. :mod:`.folders` applies it to an account's store, :mod:`.imap` wraps the IMAP mailbox
commands, :mod:`.plugin` holds the hook implementations and :mod:`.cli` the admin command.
"""

NAME = "folder_sync"
