"""Working-day weights in closed form: equal to the day-by-day definition on generated company
calendars (holidays, make-up working Saturdays, other workweeks), in many time zones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.projections.attainment import working_weights
from service.projections.periods import start_of
from service.projections.targets import DayDeclared, Plan
from service.projections.workdays import (
    EVERY_DAY,
    MONDAY_TO_FRIDAY,
    WorkCalendar,
    calendar_at,
)
from service.settings import Settings, parse_workweek
from tests.unit.test_period_weights import ZONES, CountingZone

_DAY = timedelta(days=1)


def _days(start: datetime, end: datetime, tz: tzinfo) -> Iterator[tuple[date, Fraction]]:
    day = start.astimezone(tz).date()
    while (day_start := start_of(day, tz)) < end:
        day_end = start_of(day + _DAY, tz)
        covered = min(end, day_end) - max(start, day_start)
        if covered > timedelta(0):
            micro = timedelta(microseconds=1)
            yield day, Fraction(covered // micro, (day_end - day_start) // micro)
        day += _DAY


def _week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=offset) for offset in range(7)]


def _month_of(day: date) -> list[date]:
    first = day.replace(day=1)
    return [
        first + timedelta(days=n)
        for n in range(31)
        if (first + timedelta(days=n)).month == day.month
    ]


def _quarter_of(day: date) -> list[date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    return [
        d
        for month in range(first_month, first_month + 3)
        for d in _month_of(date(day.year, month, 1))
    ]


def day_by_day(
    start: datetime, end: datetime, tz: tzinfo, works: Callable[[date], bool]
) -> dict[str, Fraction]:
    """The definition, day by day: each working day's covered share, over 1 and over the
    working days of its week, month and quarter; a day that does not work adds nothing."""
    weights = dict.fromkeys(("day", "week", "month", "quarter"), Fraction(0))
    units = (("week", _week_of), ("month", _month_of), ("quarter", _quarter_of))
    working_in: dict[tuple[str, date], int] = {}
    for day, share in _days(start, end, tz):
        if not works(day):
            continue
        weights["day"] += share
        for unit, days_of in units:
            members = days_of(day)
            key = (unit, members[0])
            if key not in working_in:
                working_in[key] = sum(1 for member in members if works(member))
            weights[unit] += share / working_in[key]
    return weights


@st.composite
def calendars(draw: st.DrawFn, around: date) -> tuple[WorkCalendar, dict[date, bool]]:
    """A workweek and declared dates near `around`: holidays on weekdays, make-up Saturdays,
    whole weeks off (a Lunar New Year), and declarations that change nothing."""
    workweek = draw(
        st.one_of(
            st.just(MONDAY_TO_FRIDAY),
            st.just(EVERY_DAY),
            st.just(frozenset({6, 0, 1, 2, 3})),  # Sunday to Thursday
            st.frozensets(st.integers(0, 6), max_size=7),
        )
    )
    offsets = st.integers(-400, 800)
    declared: dict[date, bool] = {}
    for offset in draw(st.lists(offsets, max_size=25)):
        day = around + timedelta(days=offset)
        declared[day] = draw(st.booleans())
    for offset in draw(st.lists(offsets, max_size=6)):  # make-up Saturdays
        saturday = around + timedelta(days=offset)
        declared[saturday + timedelta(days=(5 - saturday.weekday()) % 7)] = True
    for offset in draw(st.lists(offsets, max_size=2)):  # a whole week off
        for day in _week_of(around + timedelta(days=offset)):
            declared[day] = False
    exceptions = {
        day: works for day, works in declared.items() if works != (day.weekday() in workweek)
    }
    return WorkCalendar(workweek, exceptions), declared


instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
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


@settings(max_examples=250, deadline=None, database=None)
@given(data=st.data(), start=st.one_of(aligned, instants), span=spans, tz=st.sampled_from(ZONES))
def test_the_closed_form_equals_the_day_by_day_definition(
    data: st.DataObject, start: datetime, span: timedelta, tz: tzinfo
) -> None:
    calendar, _ = data.draw(calendars(start.astimezone(tz).date()))
    end = start + span
    assert working_weights(start, end, tz, calendar) == day_by_day(
        start, end, tz, calendar.is_working
    )


@settings(max_examples=25, deadline=None, database=None)
@given(data=st.data(), first=st.dates(date(1990, 1, 1), date(2040, 1, 1)), days=st.integers(1, 800))
def test_whole_local_days_agree_in_every_zone(data: st.DataObject, first: date, days: int) -> None:
    calendar, declared = data.draw(calendars(first))

    def works(day: date) -> bool:
        return declared.get(day, day.weekday() in calendar.workweek)

    for tz in ZONES:
        start, end = start_of(first, tz), start_of(first + timedelta(days=days), tz)
        assert working_weights(start, end, tz, calendar) == day_by_day(start, end, tz, works)


def test_a_holiday_and_a_make_up_saturday_in_taipei() -> None:
    # Given Monday to Friday, 2026-02-27 (a Friday) off and Saturday 2026-02-14 worked
    taipei = ZoneInfo("Asia/Taipei")
    calendar = WorkCalendar(MONDAY_TO_FRIDAY, {date(2026, 2, 27): False, date(2026, 2, 14): True})
    # When February's weights are asked
    weights = working_weights(
        start_of(date(2026, 2, 1), taipei), start_of(date(2026, 3, 1), taipei), taipei, calendar
    )
    # Then its 20 weekdays, less the holiday, plus the Saturday, are 20 working days
    assert weights["day"] == 20
    assert weights["month"] == 1
    # and the week of the holiday weighs its 4 working days of 4 (23-27 February, whole)
    week = working_weights(
        start_of(date(2026, 2, 23), taipei), start_of(date(2026, 2, 26), taipei), taipei, calendar
    )
    assert week["day"] == 3
    assert week["week"] == Fraction(3, 4)


def test_a_period_without_working_days_weighs_nothing() -> None:
    calendar = WorkCalendar(MONDAY_TO_FRIDAY, {})
    saturday, monday = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
    assert set(working_weights(saturday, monday, UTC, calendar).values()) == {0}


def test_the_cost_does_not_grow_with_the_span() -> None:
    # Given a calendar with a holiday a year for three centuries
    holidays = {
        date(year, 1, 1): False for year in range(1900, 2200) if date(year, 1, 1).weekday() < 5
    }
    calendar = WorkCalendar(MONDAY_TO_FRIDAY, holidays)
    zone = CountingZone(ZoneInfo("UTC"))
    # When the weights of three hundred years are asked
    weights = working_weights(
        datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC), zone, calendar
    )
    # Then the zone was asked a handful of times, and the months all count whole
    assert zone.asked <= 20
    assert weights["month"] == 3600
    assert weights["day"] == day_by_day_count(date(1900, 1, 1), date(2200, 1, 1), calendar)


def day_by_day_count(first: date, after: date, calendar: WorkCalendar) -> int:
    return sum(
        1 for n in range((after - first).days) if calendar.is_working(first + timedelta(days=n))
    )


def test_the_latest_declaration_in_force_wins() -> None:
    # Given Friday 27 February declared off, then declared working again later
    at = datetime(2026, 1, 1, tzinfo=UTC)
    known = Plan(
        calendar=[
            DayDeclared(date(2026, 2, 27), False, "Peace Memorial Day", at),
            DayDeclared(date(2026, 2, 27), True, None, at + timedelta(days=30)),
        ]
    )
    # Then before the second declaration it is a holiday, after it a working day again
    assert not calendar_at(known, at + timedelta(days=1), MONDAY_TO_FRIDAY).is_working(
        date(2026, 2, 27)
    )
    assert calendar_at(known, at + timedelta(days=31), MONDAY_TO_FRIDAY).is_working(
        date(2026, 2, 27)
    )
    assert calendar_at(known, at + timedelta(days=31), MONDAY_TO_FRIDAY).exceptions == {}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sun-thu", {6, 0, 1, 2, 3}),
        ("mon,tue,wed,thu,fri,sat", {0, 1, 2, 3, 4, 5}),
        ("Mon-Thu, Sat", {0, 1, 2, 3, 5}),
        ("mon-sun", set(range(7))),
        ("wed", {2}),
    ],
)
def test_a_workweek_is_read_from_ranges_and_lists(text: str, days: set[int]) -> None:
    assert parse_workweek(text) == days
    assert Settings(FUNNEL_WORKWEEK=text).workweek_days == days


@pytest.mark.parametrize("text", ["", "monday-friday", "mon-fri-sat", "mon,,fri", "xyz"])
def test_a_bad_workweek_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="workweek"):
        Settings(FUNNEL_WORKWEEK=text)
