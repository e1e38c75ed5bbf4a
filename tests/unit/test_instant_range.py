"""The accepted range of instants and RFC 3339 text, in one place (`service.events.instants`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.events.envelope import EnvelopeError, parse_event
from service.events.instants import (
    EARLIEST,
    LATEST,
    as_stored,
    check_range,
    in_range,
    parse_date_time,
)
from service.projections.periods import parse_date, parse_instant, parse_period
from service.web.view import parse_view
from tests.factories import visit

TAIPEI = ZoneInfo("Asia/Taipei")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_range_is_1900_to_2200_with_its_end_excluded() -> None:
    assert in_range(EARLIEST) and not in_range(EARLIEST - timedelta(microseconds=1))
    assert in_range(LATEST - timedelta(microseconds=1)) and not in_range(LATEST)


def test_a_naive_value_is_never_in_range_and_is_read_as_utc() -> None:
    # The driver reads `-infinity` and `infinity` as naive datetime.min and datetime.max
    assert not in_range(datetime.min) and not in_range(datetime(2026, 1, 1))
    assert as_stored(datetime.min) == datetime.min.replace(tzinfo=UTC)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert as_stored(moment) is moment


@pytest.mark.parametrize(
    "text",
    [
        "2026-W01-1T00:00:00Z",
        "2026-012T00:00:00Z",
        "20260112T100000Z",
        "2026-01-12T10:00Z",
        "2026-01-12T10:00:00+0800",
        "2026-01-12T10:00:00+08",
        "2026-01-12T10:00:00+08:00:00",
        "2026-01-12T10:00:00+14:60",
        "2026-01-12T10:00:00,5Z",
        "2026-01-12T10:00:00.Z",
        "2026-01-12 10:00:00Z",
        "2026-01-12T10:00:00",
        "2026-01-12",
        "2026-01-12T10:00:00Z\n",
        " 2026-01-12T10:00:00Z",
        "\u0662\u0660\u0662\u0666-01-12T10:00:00Z",
        "2026-01-12T10:00:60Z",
        "2026-02-30T10:00:00Z",
    ],
)
def test_only_rfc_3339_date_times_are_read(text: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|not a valid"):
        parse_date_time(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-12T10:00:00Z", datetime(2026, 1, 12, 10, tzinfo=UTC)),
        ("2026-01-12t10:00:00z", datetime(2026, 1, 12, 10, tzinfo=UTC)),
        ("2026-01-12T10:00:00.5-00:00", datetime(2026, 1, 12, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-01-12T10:00:00.123456789+08:00", datetime(2026, 1, 12, 2, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_rfc_3339_date_times_are_read(text: str, expected: datetime) -> None:
    assert parse_date_time(text) == expected


def test_an_offset_may_be_left_out_only_where_a_zone_reads_it() -> None:
    assert parse_date_time("2026-01-12 10:00:00", offset_required=False).tzinfo is None
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_date_time("2026-01-12 10:00:00")


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)))
def test_every_instant_in_range_reads_back_from_its_text(moment: datetime) -> None:
    instant = moment.replace(tzinfo=timezone(timedelta(hours=-5)))
    assert check_range(parse_date_time(instant.isoformat()), "t") == instant


@pytest.mark.parametrize(
    "instant",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),  # before year 1 in UTC
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))),  # after 9999 in UTC
        datetime(1899, 12, 31, 23, 59, 59, tzinfo=UTC),
        LATEST,
    ],
)
def test_instants_out_of_range_are_refused_even_where_utc_overflows(instant: datetime) -> None:
    with pytest.raises(ValueError, match="out of range"):
        check_range(instant, "given")


def test_an_event_time_out_of_range_is_named_and_a_valid_one_keeps_its_value() -> None:
    with pytest.raises(EnvelopeError) as refused:
        parse_event(visit("D-1", "R-1", "0001-01-01T00:00:00+14:00"), now=NOW)
    assert [e.pointer for e in refused.value.errors] == ["/time"]
    event = parse_event(visit("D-1", "R-1", "1900-01-01T08:00:00+08:00"), now=NOW)
    assert event.time == EARLIEST and event.time.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("0001-01-01", UTC),
        ("1900-01-01", TAIPEI),  # its 00:00 is 1899-12-31T16:00Z
        ("9999-12-31", UTC),
        ("2200-01-01", UTC),
        ("2026-W01-1", UTC),
        ("20260112", UTC),
        ("2026-01-12T10:00", UTC),
        ("0001-01-01T00:00:00+14:00", UTC),
    ],
)
def test_query_instants_out_of_range_or_shape_are_refused(text: str, zone: ZoneInfo) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each has its own message
        parse_instant(text, zone, end_of_date=False)


def test_as_of_the_last_day_in_range_is_its_last_microsecond() -> None:
    last = parse_instant("2199-12-31", UTC, end_of_date=True)
    assert last == LATEST - timedelta(microseconds=1)


@pytest.mark.parametrize(
    "text", ["2026-Q1\n", "0001-Q1", "1899-Q4", "2199-Q4", "9999-Q4", "\u0662\u0660\u0662\u0666-Q1"]
)
def test_periods_are_matched_whole_and_within_range(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each has its own message
        parse_period(text, UTC)


def test_a_date_is_in_range_when_its_first_instant_is() -> None:
    assert parse_date("1900-01-01", UTC) == date(1900, 1, 1)
    with pytest.raises(ValueError, match="out of range"):
        parse_date("1900-01-01", TAIPEI)
    with pytest.raises(ValueError, match="not a date"):
        parse_date("2026-W01-1", UTC)


def test_the_dashboard_falls_back_to_today_when_the_anchor_quarter_is_out_of_range() -> None:
    # The newest event at 1900-01-01T02:00Z is 1899-12-31 in New York: its quarter starts in 1899
    view, invalid = parse_view(
        {}, ZoneInfo("America/New_York"), date(1899, 12, 31), date(2026, 6, 1)
    )
    assert (view.first, view.shortcut, invalid) == (date(2026, 4, 1), "2026-Q2", [])
