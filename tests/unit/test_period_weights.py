"""Period weights in closed form: equal to the day-by-day definition, at a cost free of the span."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from service.projections.attainment import period_weights
from service.projections.periods import start_of

# Zones with half-hour and 45-minute offsets, DST at midnight (Havana, Santiago), a 30-minute
# DST (Lord Howe) and none at all. Zones that skip a whole calendar day (Samoa 2011-12-30)
# are left out: the closed form counts such a day, the loop did not (see `period_weights`).
ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Asia/Taipei",
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "America/Santiago",
        "America/Havana",
        "Asia/Tehran",
        "America/St_Johns",
        "Asia/Kathmandu",
    )
]


def _days_in_quarter(day: date) -> int:
    first = 3 * ((day.month - 1) // 3) + 1
    return sum(calendar.monthrange(day.year, month)[1] for month in range(first, first + 3))


def _days(start: datetime, end: datetime, tz: tzinfo) -> Iterator[tuple[date, Fraction]]:
    day = start.astimezone(tz).date()
    while (day_start := start_of(day, tz)) < end:
        day_end = start_of(day + timedelta(days=1), tz)
        covered = min(end, day_end) - max(start, day_start)
        length = day_end - day_start
        if covered > timedelta(0):
            micro = timedelta(microseconds=1)
            yield day, Fraction(covered // micro, length // micro)
        day += timedelta(days=1)


def day_by_day(start: datetime, end: datetime, tz: tzinfo) -> dict[str, Fraction]:
    """The definition: each day's covered share, over 1, 7, its month's and quarter's days."""
    weights = dict.fromkeys(("day", "week", "month", "quarter"), Fraction(0))
    for day, share in _days(start, end, tz):
        weights["day"] += share
        weights["week"] += share / 7
        weights["month"] += share / calendar.monthrange(day.year, day.month)[1]
        weights["quarter"] += share / _days_in_quarter(day)
    return weights


instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
# Mostly whole hours and midnights, where the edge cases are; sometimes any microsecond.
aligned = st.builds(
    lambda moment, hour: moment.replace(hour=hour, minute=0, second=0, microsecond=0),
    instants,
    st.integers(0, 23),
)
spans = st.one_of(
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3)),
    st.timedeltas(min_value=timedelta(days=1), max_value=timedelta(days=800)),
    st.integers(1, 800).map(lambda days: timedelta(days=days)),
)


@settings(max_examples=400, deadline=None, database=None)
@given(start=st.one_of(aligned, instants), span=spans, tz=st.sampled_from(ZONES))
def test_the_closed_form_equals_the_day_by_day_definition(
    start: datetime, span: timedelta, tz: tzinfo
) -> None:
    end = start + span
    assert period_weights(start, end, tz) == day_by_day(start, end, tz)


@settings(max_examples=100, deadline=None, database=None)
@given(first=st.dates(date(1990, 1, 1), date(2040, 1, 1)), days=st.integers(1, 800))
def test_whole_local_days_agree_in_every_zone(first: date, days: int) -> None:
    for tz in ZONES:
        start, end = start_of(first, tz), start_of(first + timedelta(days=days), tz)
        assert period_weights(start, end, tz) == day_by_day(start, end, tz)


class CountingZone(tzinfo):
    """A zone that counts how often it is asked for its offset."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.asked = 0

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        self.asked += 1
        return self.zone.utcoffset(dt)

    def dst(self, dt: datetime | None) -> timedelta | None:
        return self.zone.dst(dt)

    def tzname(self, dt: datetime | None) -> str | None:
        return self.zone.tzname(dt)

    def fromutc(self, dt: datetime) -> datetime:
        self.asked += 1
        return self.zone.fromutc(dt.replace(tzinfo=self.zone)).replace(tzinfo=self)


def test_the_cost_does_not_grow_with_the_span() -> None:
    # Given a quarter and three centuries, in a zone that counts its conversions
    quarter, centuries = CountingZone(ZoneInfo("Asia/Taipei")), CountingZone(ZoneInfo("UTC"))
    period_weights(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), quarter)
    # When the weights of three hundred years are asked
    weights = period_weights(
        datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC), centuries
    )
    # Then they are exact, and the zone was asked as often as for one quarter (a handful)
    assert weights["month"] == 3600
    assert weights["quarter"] == 1200
    assert weights["day"] == (date(2200, 1, 1) - date(1900, 1, 1)).days
    assert centuries.asked <= 20
    assert centuries.asked <= quarter.asked + 4
