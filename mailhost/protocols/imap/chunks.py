"""One assembled command: its line texts with the literals that came between them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandChunks:
    """The raw pieces of one command, literals kept opaque.

    ``lines[i]`` is the text before literal ``i`` with its ``{n}``/``{n+}`` marker
    removed; the last line is the text after the last literal. So there is always one
    more line than literals, and the parser meets each literal exactly where its marker
    stood.
    """

    lines: tuple[bytes, ...]
    literals: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if len(self.lines) != len(self.literals) + 1:
            raise ValueError("a command has exactly one more line than literals")

    @classmethod
    def from_line(cls, line: bytes) -> CommandChunks:
        """A command without literals."""
        return cls(lines=(line,))
