"""Retention for mailhost: expunge old mail per folder, like Dovecot's autoexpunge.

The pieces, from pure to I/O: :mod:`.durations` (``30d`` and friends), :mod:`.settings` (the
``[plugins.retention]`` schema), :mod:`.policy` (which rule a folder gets and which messages it
selects, the per-user overrides and the legal hold), :mod:`.report` (what a sweep did, as text),
:mod:`.sweep` (walks accounts and expunges through the store), :mod:`.cli` and :mod:`.plugin`.
"""
