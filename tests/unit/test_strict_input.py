"""Strict input, without I/O: integers of ASCII digits, identifiers, repeated JSON keys, money."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from service.bi.roles import RoleNameError, create_bi_role
from service.digits import MAX_INT64, natural
from service.events.json_keys import DuplicateKeys, check_unique_keys
from service.events.money import Amount, Currency
from service.events.text import identifier_problem
from service.web.view import kind_of


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        (str(MAX_INT64), MAX_INT64),
        (str(MAX_INT64 + 1), None),
        ("9" * 19, None),
        ("1" * 20, None),
        ("²", None),
        ("٣", None),
        ("\uff11", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1\n", None),
        ("1_0", None),
        ("", None),
        (None, None),
    ],
)
def test_natural_reads_only_ascii_digits_within_64_bits(text, value):
    assert natural(text) == value


def test_natural_honours_a_lower_maximum():
    assert natural("60", maximum=60) == 60
    assert natural("61", maximum=60) is None


@pytest.mark.parametrize(
    "text", ["R-07", "業務-七號", "crm:account/42", "a b", "Ünïcødé", "\u05e9\u05dc\u05d5\u05dd"]
)
def test_visible_identifiers_pass(text):
    assert identifier_problem(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "R\u202e07",  # right-to-left override
        "R\u2066-07",  # left-to-right isolate
        "R\u200f07",  # right-to-left mark
        "R\u061c07",  # Arabic letter mark
        "R\u200b07",  # zero-width space
        "R\u200c07",  # zero-width non-joiner
        "R\u2060",  # word joiner
        "\ufeffR",  # byte order mark
        "R\u00ad07",  # soft hyphen
        "R\x0007",
        "R\t07",
        "R\x7f",
        "R\x8507",  # next line (C1)
        "R\u202807",  # line separator
        " R",
        "R ",
        "R\u3000",
    ],
)
def test_hidden_characters_and_surrounding_space_are_no_identifier(text):
    assert identifier_problem(text) is not None


def _keys(text: bytes) -> None:
    check_unique_keys(text, orjson.loads(text))


def test_a_body_without_repeats_passes_even_when_its_text_looks_like_keys():
    _keys(b'{"a": "x\\":", "b": {"c": "\\" : "}, "d": [{"a": 1}, {"a": 2}]}')
    _keys(b'[{"a":1},{"a":1}]')


def test_repeats_are_named_by_json_pointer():
    with pytest.raises(DuplicateKeys) as raised:
        _keys(b'[{"a": 1}, {"d": {"x/y": 1, "x/y": 2, "m~n": 0, "m~n": 1}}]')
    assert [pointer for pointer, _ in raised.value.problems] == ["/1/d/x~1y", "/1/d/m~0n"]


def test_a_repeat_spaced_before_its_colon_is_found():
    with pytest.raises(DuplicateKeys):
        _keys(b'{"a" :1, "a"\n:2}')


def test_a_document_nested_too_deeply_to_check_is_refused():
    deep = b'{"a":' * 990 + b'"x\\":"' + b"}" * 990
    with pytest.raises(DuplicateKeys):
        _keys(deep)


JSON_TEXT = st.text(alphabet=st.sampled_from(['"', ":", " ", "a", "\\", "k"]), max_size=4)
DOCUMENTS = st.recursive(
    st.none() | st.integers() | JSON_TEXT,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(st.tuples(JSON_TEXT, inner), max_size=3).map(lambda pairs: ("object", pairs))
    ),
    max_leaves=10,
)


def _text(document: Any, spaced: bool) -> str:
    """JSON text of a document whose objects are lists of (key, value) pairs, repeats kept."""
    if isinstance(document, tuple):
        colon = " : " if spaced else ":"
        members = (json.dumps(k) + colon + _text(v, spaced) for k, v in document[1])
        return "{" + ",".join(members) + "}"
    if isinstance(document, list):
        return "[" + ",".join(_text(item, spaced) for item in document) + "]"
    return json.dumps(document)


def _has_repeat(document: Any) -> bool:
    if isinstance(document, tuple):
        keys = [key for key, _ in document[1]]
        return len(set(keys)) < len(keys) or any(_has_repeat(v) for _, v in document[1])
    if isinstance(document, list):
        return any(_has_repeat(item) for item in document)
    return False


@given(DOCUMENTS, st.booleans())
def test_a_repeat_is_found_exactly_when_there_is_one(document, spaced):
    text = _text(document, spaced).encode()
    try:
        _keys(text)
    except DuplicateKeys:
        assert _has_repeat(document)
    else:
        assert not _has_repeat(document)


@pytest.mark.parametrize(
    "amount", [" 10", "10 ", "1e3", "1_000", "\u0661\u0660", "-0", "+1", "1.", ".1"]
)
def test_amount_text_is_plain(amount):
    with pytest.raises(ValidationError):
        TypeAdapter(Amount).validate_python(amount)


@pytest.mark.parametrize(("amount", "value"), [("10", "10"), ("0.50", "0.50"), (3, "3")])
def test_plain_amounts_pass(amount, value):
    assert format(TypeAdapter(Amount).validate_python(amount), "f") == value


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XSU", "XUA"])
def test_x_codes_that_name_no_currency_are_refused(code):
    with pytest.raises(ValidationError):
        TypeAdapter(Currency).validate_python(code)


@pytest.mark.parametrize("code", ["XAF", "XOF", "XCD", "XPF", "USD", "TWD", "EUR"])
def test_currencies_pass(code):
    assert TypeAdapter(Currency).validate_python(code) == code


def test_a_dashboard_period_kind_matches_the_whole_text():
    assert kind_of("2026-Q1") == "quarter"
    assert kind_of("2026-W10") == "week"
    assert kind_of("2026-Q1\n") is None
    assert kind_of("٢\u0660٢٦-Q1") is None


async def test_a_bi_role_name_ending_in_a_newline_is_refused_before_any_sql():
    with pytest.raises(RoleNameError):
        await create_bi_role(None, "reporting\n", "secret", "UTC")  # type: ignore[arg-type]
