"""Dates, instants and period shortcuts in the company time zone (contract §5)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.projections import parse_instant, parse_period
from tests.unit.factory import at

TAIPEI = ZoneInfo("Asia/Taipei")
NEW_YORK = ZoneInfo("America/New_York")


def test_a_date_is_midnight_in_the_company_time_zone() -> None:
    assert parse_instant("2026-04-01", TAIPEI, end_of_date=False) == at("2026-03-31T16:00:00+00:00")
    assert parse_instant("2026-04-01", UTC, end_of_date=False) == at("2026-04-01T00:00:00+00:00")


def test_as_of_a_date_is_the_end_of_that_date() -> None:
    end = parse_instant("2026-03-31", TAIPEI, end_of_date=True)
    assert end == at("2026-03-31T15:59:59.999999+00:00")
    # `occurred_at <= as_of` then means "before the next local midnight"
    assert at("2026-03-31T15:59:59.999999+00:00") <= end < at("2026-03-31T16:00:00+00:00")


def test_end_of_date_follows_daylight_saving_days() -> None:
    # 2026-03-08 in New York lasts 23 hours
    start = parse_instant("2026-03-08", NEW_YORK, end_of_date=False)
    end = parse_instant("2026-03-08", NEW_YORK, end_of_date=True)
    assert end - start == timedelta(hours=23) - timedelta(microseconds=1)


def test_a_date_time_with_offset_is_taken_as_given() -> None:
    parsed = parse_instant("2026-03-30T09:12:00+08:00", UTC, end_of_date=True)
    assert parsed == at("2026-03-30T01:12:00+00:00")
    assert parsed.tzinfo is UTC
    assert parse_instant("2026-03-30T01:12:00Z", TAIPEI, end_of_date=False) == parsed


def test_a_date_time_without_offset_is_in_the_company_time_zone() -> None:
    assert parse_instant("2026-03-30T09:12:00", TAIPEI, end_of_date=True) == at(
        "2026-03-30T01:12:00+00:00"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "20260301",
        "2026-03-01T25:00",
        "2026-03-01T10:00+99:00",
    ],
)
def test_bad_instants_are_rejected_clearly(text: str) -> None:
    with pytest.raises(ValueError, match=r"2026|date"):
        parse_instant(text, UTC, end_of_date=False)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q1", "2026-01-01T00:00:00+08:00", "2026-04-01T00:00:00+08:00"),
        ("2026-Q4", "2026-10-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
        ("2026-03", "2026-03-01T00:00:00+08:00", "2026-04-01T00:00:00+08:00"),
        ("2026-12", "2026-12-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
        ("2026-W10", "2026-03-02T00:00:00+08:00", "2026-03-09T00:00:00+08:00"),
        ("2026-W01", "2025-12-29T00:00:00+08:00", "2026-01-05T00:00:00+08:00"),
        ("2026-W53", "2026-12-28T00:00:00+08:00", "2027-01-04T00:00:00+08:00"),
    ],
)
def test_period_shortcuts(text: str, start: str, end: str) -> None:
    assert parse_period(text, TAIPEI) == (at(start), at(end))


@pytest.mark.parametrize(
    "text", ["2026-Q5", "2026-Q0", "2026-00", "2026-13", "2025-W53", "2026-W00", "2026", "Q1-2026"]
)
def test_bad_periods_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=text):
        parse_period(text, TAIPEI)


def test_taipei_quarter_boundary() -> None:
    # Given an event at 2026-03-31T16:30Z, which is 2026-04-01 00:30 in Taipei
    occurred_at = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    q1_start, q1_end = parse_period("2026-Q1", TAIPEI)
    q2_start, q2_end = parse_period("2026-Q2", TAIPEI)
    # Then it is in Q2, not in Q1
    assert not q1_start <= occurred_at < q1_end
    assert q2_start <= occurred_at < q2_end
    # And Q1 ends exactly where Q2 starts, at 16:00Z
    assert q1_end == q2_start == at("2026-03-31T16:00:00+00:00")
    # And as_of the last day of Q1 excludes it, as in UTC it would include it
    assert occurred_at > parse_instant("2026-03-31", TAIPEI, end_of_date=True)
    assert occurred_at <= parse_instant("2026-03-31", UTC, end_of_date=True)
