"""Line framing: limits hold and the tail of an over-long line never becomes a command."""

from mailhost.linebuffer import LineBuffer, LineTooLong


def lines_of(buffer: LineBuffer) -> list[bytes | LineTooLong]:
    out: list[bytes | LineTooLong] = []
    while (item := buffer.next_line()) is not None:
        out.append(item)
    return out


def test_crlf_and_bare_lf_lines() -> None:
    buffer = LineBuffer(100)
    buffer.feed(b"CAPA\r\nNOOP\nQU")
    assert lines_of(buffer) == [b"CAPA", b"NOOP"]
    buffer.feed(b"IT\r\n")
    assert lines_of(buffer) == [b"QUIT"]


def test_long_line_tail_is_never_a_command_when_it_arrives_in_one_piece() -> None:
    buffer = LineBuffer(10)
    buffer.feed(b"X" * 20 + b"DELE 1\r\nNOOP\r\n")
    assert lines_of(buffer) == [LineTooLong(10), b"NOOP"]


def test_long_line_tail_is_discarded_across_many_reads() -> None:
    buffer = LineBuffer(10)
    buffer.feed(b"X" * 11)
    assert lines_of(buffer) == [LineTooLong(10)]
    for _ in range(1000):  # 10 MB without CRLF in small pieces: memory stays bounded
        buffer.feed(b"Y" * 10_000)
        assert len(buffer) == 0
        assert lines_of(buffer) == []
    buffer.feed(b"QUIT\r\nNOOP\r\n")
    assert lines_of(buffer) == [b"NOOP"]


def test_exact_limit_is_accepted() -> None:
    buffer = LineBuffer(4)
    buffer.feed(b"ABCD\r\nABCDE\r\n")
    assert lines_of(buffer) == [b"ABCD", LineTooLong(4)]


def test_take_reads_literal_bytes_verbatim() -> None:
    buffer = LineBuffer(10)
    buffer.feed(b"012345678901234567890\r\nNEXT\r\n")
    assert buffer.take(23) == b"012345678901234567890\r\n"
    assert lines_of(buffer) == [b"NEXT"]


def test_clear_drops_plaintext_sent_ahead_of_tls() -> None:
    buffer = LineBuffer(100)
    buffer.feed(b"NOOP\r\nPASS x\r\n")
    assert buffer.clear() == len(b"NOOP\r\nPASS x\r\n")
    assert lines_of(buffer) == []


def test_a_line_given_back_comes_out_first_and_once() -> None:
    buffer = LineBuffer(100)
    buffer.feed(b"RETR 1\r\nQUIT\r\n")
    line = buffer.next_line()
    assert line == b"RETR 1"
    buffer.unread(line)
    assert lines_of(buffer) == [b"RETR 1", b"QUIT"]


def test_a_line_given_back_is_plaintext_that_clear_drops() -> None:
    buffer = LineBuffer(100)
    buffer.feed(b"NOOP\r\nRE")
    line = buffer.next_line()
    assert line is not None
    buffer.unread(line)
    assert buffer.clear() == 4 + 2  # the given-back line and the partial one
    assert buffer.next_line() is None
