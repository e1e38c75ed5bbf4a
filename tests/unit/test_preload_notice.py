"""A spare-generation notice is read strictly: anything but the exact shape is ignored."""

from __future__ import annotations

import pytest

from service.store.projection.preload_notices import SpareReady, parse_notice

GOOD = SpareReady(id="ab" * 16, position=12, origin=345)


def test_a_notice_reads_back_as_written() -> None:
    assert parse_notice(GOOD.model_dump_json()) == GOOD


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "{",
        "null",
        "[]",
        '{"id": "' + "ab" * 16 + '", "position": 12}',
        '{"id": "' + "ab" * 16 + '", "position": 12, "origin": 0, "tables": "rm_x; DROP"}',
        '{"id": "' + "AB" * 16 + '", "position": 12, "origin": 0}',
        '{"id": "' + "ab" * 17 + '", "position": 12, "origin": 0}',
        '{"id": "' + "ab" * 16 + '", "position": -1, "origin": 0}',
        '{"id": "' + "ab" * 16 + '", "position": "12", "origin": 0}',
        '{"id": "' + "ab" * 16 + '", "position": 12.0, "origin": 0}',
        '{"id": "' + "ab" * 16 + '", "position": 9223372036854775808, "origin": 0}',
        '{"id": "' + "ab" * 16 + '", "position": 12, "origin": 2147483648}',
    ],
)
def test_anything_else_is_ignored(payload: str) -> None:
    assert parse_notice(payload) is None
