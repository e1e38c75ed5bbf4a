"""Sub-periods of a period: days, weeks from Monday and months, in any company time zone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from service.projections.intervals import INTERVALS, Interval, sub_periods

ZONES = [ZoneInfo(name) for name in ("UTC", "Asia/Taipei", "Europe/Berlin", "America/Santiago")]
instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


def _starts_a_sub_period(instant: datetime, interval: Interval, zone: ZoneInfo) -> bool:
    local = instant.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # A zone may skip midnight (its clocks jump at 00:00): the day then starts when it can.
    starts_day = local == midnight or (
        (local - midnight) <= timedelta(hours=1) and local.minute == 0
    )
    if interval == "day":
        return starts_day
    if interval == "week":
        return starts_day and local.weekday() == 0
    return starts_day and local.day == 1


@given(
    start=instants,
    length=st.timedeltas(timedelta(microseconds=1), timedelta(days=120)),
    interval=st.sampled_from(INTERVALS),
    zone=st.sampled_from(ZONES),
)
def test_sub_periods_cover_the_period_and_start_where_the_calendar_does(
    start: datetime, length: timedelta, interval: Interval, zone: ZoneInfo
) -> None:
    end = start + length
    periods = list(sub_periods(start, end, interval, zone))
    assert periods[0][0] == start and periods[-1][1] == end
    assert all(first < after for first, after in periods)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(periods))
    assert all(_starts_a_sub_period(first, interval, zone) for first, _ in periods[1:])


def test_a_week_from_a_sunday_in_taipei() -> None:
    taipei = ZoneInfo("Asia/Taipei")
    sunday_noon = datetime(2026, 3, 1, 4, tzinfo=UTC)
    periods = list(sub_periods(sunday_noon, datetime(2026, 3, 10, tzinfo=UTC), "week", taipei))
    assert periods == [
        (sunday_noon, datetime(2026, 3, 1, 16, tzinfo=UTC)),
        (datetime(2026, 3, 1, 16, tzinfo=UTC), datetime(2026, 3, 8, 16, tzinfo=UTC)),
        (datetime(2026, 3, 8, 16, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)),
    ]
