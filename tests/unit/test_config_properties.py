"""zoo.cfg is read with java.util.Properties syntax: every separator, comment, continuation and
escape form gives the key/value Java would see, with the right line number."""

from __future__ import annotations

import pytest

from pyzk.config.properties import (
    PropertiesSyntaxError,
    decode_config_bytes,
    java_trim,
    parse_properties,
)


def kv(text: str) -> list[tuple[str, str, int]]:
    return [(p.key, p.value, p.line) for p in parse_properties(text)]


@pytest.mark.parametrize("line, key, value", [
    ("tickTime=2000", "tickTime", "2000"),
    ("tickTime: 2000", "tickTime", "2000"),
    ("tickTime 2000", "tickTime", "2000"),
    ("tickTime\t=\t2000", "tickTime", "2000"),
    ("   tickTime   =   2000", "tickTime", "2000"),
    ("tickTime = = 2000", "tickTime", "= 2000"),  # only one separator is consumed
    ("tickTime=2000   ", "tickTime", "2000   "),  # Properties keeps it; QuorumPeerConfig trims
    ("tickTime", "tickTime", ""),
    ("tickTime=", "tickTime", ""),
    ("a\\=b=c", "a=b", "c"),
    ("a\\:b:c", "a:b", "c"),
    ("a\\ b c", "a b", "c"),
    ("k=\\u0041\\t\\n\\x", "k", "A\t\nx"),
    ("k=C:\\\\dir", "k", "C:\\dir"),
    ("dataDir=/var/lib/zoo#not-a-comment", "dataDir", "/var/lib/zoo#not-a-comment"),
])
def test_every_separator_and_escape_form_matches_java(line: str, key: str, value: str) -> None:
    assert kv(line) == [(key, value, 1)]


def test_comments_and_blank_lines_are_skipped_and_lines_counted() -> None:
    text = "# hash comment\n! bang comment\n\n   \n  # indented\nclientPort=2181\n"
    assert kv(text) == [("clientPort", "2181", 6)]


def test_backslash_continues_a_line_and_drops_leading_whitespace() -> None:
    text = "server.1=127.0.0.1:\\\n      2888:3888\nx=1\n"
    assert kv(text) == [("server.1", "127.0.0.1:2888:3888", 1), ("x", "1", 3)]


def test_even_backslashes_do_not_continue() -> None:
    assert kv("a=b\\\\\nc=d") == [("a", "b\\", 1), ("c", "d", 2)]


def test_comment_line_ending_in_backslash_is_not_continued() -> None:
    assert kv("# comment \\\nclientPort=1\n") == [("clientPort", "1", 2)]


def test_continuation_line_starting_with_hash_is_value_text() -> None:
    assert kv("a=b\\\n#c\n") == [("a", "b#c", 1)]


def test_backslash_at_end_of_file_is_dropped() -> None:
    assert kv("a=b\\") == [("a", "b", 1)]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_all_java_line_terminators(eol: str) -> None:
    assert kv(f"a=1{eol}b=2{eol}") == [("a", "1", 1), ("b", "2", 2)]


def test_malformed_unicode_escape_is_an_error_with_its_line() -> None:
    with pytest.raises(PropertiesSyntaxError) as info:
        parse_properties("a=1\nb=\\u12G4\n")
    assert info.value.line == 2
    assert "Malformed \\uxxxx encoding." in info.value.message


def test_duplicates_are_all_reported_in_order() -> None:
    assert kv("a=1\na=2") == [("a", "1", 1), ("a", "2", 2)]


def test_java_trim_strips_control_characters_too() -> None:
    assert java_trim(" \t2000\n\x0b ") == "2000"


def test_utf8_is_preferred_and_latin1_is_the_fallback() -> None:
    assert decode_config_bytes("dataDir=/tmp/é".encode()) == "dataDir=/tmp/é"
    assert decode_config_bytes(b"dataDir=/tmp/\xe9") == "dataDir=/tmp/é"
