"""SASL PLAIN and LOGIN server mechanisms and client response decoding."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhost.auth.sasl import (
    CANCELLED,
    MECHANISMS,
    Challenge,
    Credentials,
    InvalidClientResponse,
    LoginServer,
    PlainServer,
    SaslFailure,
    decode_client_response,
    mechanism,
)

SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
    min_size=1,
    max_size=40,
)


def plain_message(authzid: str, authcid: str, password: str) -> bytes:
    return f"{authzid}\0{authcid}\0{password}".encode()


def assert_failed(step: object) -> None:
    assert isinstance(step, SaslFailure), step
    assert step.reason


# --- decode_client_response -------------------------------------------------------------------


@pytest.mark.parametrize("line", [b"*", b"*\r\n", b"*\n"])
def test_star_cancels(line: bytes) -> None:
    assert decode_client_response(line) is CANCELLED


@pytest.mark.parametrize("line", [b"=", b"=\r\n", b"", b"\r\n"])
def test_empty_response(line: bytes) -> None:
    assert decode_client_response(line) == b""


def test_decodes_base64_with_or_without_line_ending() -> None:
    encoded = base64.b64encode(b"\0alice\0s3cret")
    assert decode_client_response(encoded) == b"\0alice\0s3cret"
    assert decode_client_response(encoded + b"\r\n") == b"\0alice\0s3cret"


@pytest.mark.parametrize(
    "line",
    [b"QQ", b"QQ=A", b"=QQ=", b"QQ==QQ==", b"Q Q==", b"QQ==\r", b"**", b"!!!!", b"\xff==", b" "],
)
def test_invalid_base64_is_rejected(line: bytes) -> None:
    with pytest.raises(InvalidClientResponse) as caught:
        decode_client_response(line)
    assert caught.value.reason
    assert caught.value.failure == SaslFailure(caught.value.reason)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_base64_round_trip(data: bytes) -> None:
    assert decode_client_response(base64.b64encode(data) + b"\r\n") == data


# --- PLAIN ------------------------------------------------------------------------------------


def test_plain_initial_response() -> None:
    step = PlainServer().start(b"\0alice\0s3cret")
    assert step == Credentials(authcid="alice", authzid=None, password="s3cret")


def test_plain_with_authzid() -> None:
    step = PlainServer().start(plain_message("bob", "admin", "pw"))
    assert step == Credentials(authcid="admin", authzid="bob", password="pw")


def test_plain_without_initial_response_sends_empty_challenge() -> None:
    server = PlainServer()
    assert server.start(None) == Challenge(b"")
    assert server.step(b"\0alice\0s3cret") == Credentials("alice", None, "s3cret")


def test_plain_non_ascii() -> None:
    step = PlainServer().start(plain_message("", "jürgen@exämple.org", "pässwörd🔑"))
    assert step == Credentials(authcid="jürgen@exämple.org", authzid=None, password="pässwörd🔑")


def test_credentials_repr_hides_password() -> None:
    assert "s3cret" not in repr(Credentials("alice", None, "s3cret"))


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"alice",
        b"alice\0s3cret",
        b"\0alice\0s3cret\0",
        b"\0alice\0s3\0cret",
        b"\0\0alice\0s3cret",
        b"\0\0s3cret",
        b"\0alice\0",
        b"\0\xff\xfe\0s3cret",
        b"\0alice\0\xc3",
        b"\xed\xa0\x80\0alice\0s3cret",
        b"\0alice\0\xc0\xaf",
    ],
)
def test_plain_malformed(message: bytes) -> None:
    assert_failed(PlainServer().start(message))


def test_plain_malformed_after_challenge() -> None:
    server = PlainServer()
    server.start(None)
    assert_failed(server.step(b"alice\0s3cret"))


def test_plain_empty_initial_response_is_a_malformed_message() -> None:
    assert_failed(PlainServer().start(b""))


@settings(max_examples=100)
@given(authzid=st.one_of(st.just(""), SAFE_TEXT), authcid=SAFE_TEXT, password=SAFE_TEXT)
def test_plain_round_trip(authzid: str, authcid: str, password: str) -> None:
    step = PlainServer().start(plain_message(authzid, authcid, password))
    assert step == Credentials(authcid, authzid or None, password)


# --- LOGIN ------------------------------------------------------------------------------------


def test_login_flow() -> None:
    server = LoginServer()
    assert server.start(None) == Challenge(b"Username:")
    assert server.step(b"alice") == Challenge(b"Password:")
    assert server.step("pässwörd".encode()) == Credentials("alice", None, "pässwörd")


@pytest.mark.parametrize("initial", [None, b""])
def test_login_without_initial_response_asks_for_username(initial: bytes | None) -> None:
    assert LoginServer().start(initial) == Challenge(b"Username:")


def test_login_initial_response_is_the_username() -> None:
    server = LoginServer()
    assert server.start(b"alice") == Challenge(b"Password:")
    assert server.step(b"s3cret") == Credentials("alice", None, "s3cret")


@pytest.mark.parametrize("bad", [b"", b"al\0ice", b"\xff"])
def test_login_bad_username(bad: bytes) -> None:
    server = LoginServer()
    server.start(None)
    assert_failed(server.step(bad))


@pytest.mark.parametrize("bad", [b"", b"s3\0cret", b"\xc3\x28"])
def test_login_bad_password(bad: bytes) -> None:
    server = LoginServer()
    server.start(b"alice")
    assert_failed(server.step(bad))


# --- exchange state and registry --------------------------------------------------------------


@pytest.mark.parametrize("factory", [PlainServer, LoginServer])
def test_step_before_start_fails(factory: type[PlainServer] | type[LoginServer]) -> None:
    assert_failed(factory().step(b"anything"))


def test_no_steps_after_credentials() -> None:
    server = PlainServer()
    server.start(b"\0alice\0s3cret")
    assert_failed(server.step(b"\0alice\0s3cret"))


def test_no_steps_after_failure() -> None:
    server = LoginServer()
    server.start(None)
    assert_failed(server.step(b""))
    assert_failed(server.step(b"alice"))


def test_start_twice_fails() -> None:
    server = LoginServer()
    server.start(None)
    assert_failed(server.start(None))
    assert_failed(server.step(b"alice"))


def test_registry_lists_plain_then_login() -> None:
    assert list(MECHANISMS) == ["PLAIN", "LOGIN"]
    with pytest.raises(TypeError):
        MECHANISMS["X"] = PlainServer  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("PLAIN", PlainServer), ("plain", PlainServer), ("Login", LoginServer)],
)
def test_mechanism_lookup_is_case_insensitive(name: str, expected: type) -> None:
    assert type(mechanism(name)) is expected


def test_mechanism_returns_fresh_servers() -> None:
    assert mechanism("PLAIN") is not mechanism("PLAIN")


@pytest.mark.parametrize("name", ["CRAM-MD5", "", "PLAIN ", "PLAIN\0", "XOAUTH2"])
def test_unknown_mechanism(name: str) -> None:
    assert mechanism(name) is None


def test_non_ascii_lookalike_is_not_plain() -> None:
    dotless_i_name = "pla\u0131n"
    assert dotless_i_name.upper() == "PLAIN"
    assert mechanism(dotless_i_name) is None
