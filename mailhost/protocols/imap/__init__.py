"""IMAP4rev1 protocol, sans-I/O: bytes in, typed commands out.

Flow: ``reader.CommandAssembler`` joins a command's lines and literals,
``parser.parse_command`` turns them into a ``commands.Command`` (raising only
``errors.ParseError``), and the session checks ``type(command).states`` (``state.State``)
before running it. ``wire`` encodes response syntax.
"""
