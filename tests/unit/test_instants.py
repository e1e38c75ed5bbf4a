"""The canonical text of an instant is `isoformat` of the instant in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given
from hypothesis import strategies as st

from service.events.instants import utc_iso, utc_iso_json

OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(minutes=-330))])


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=OFFSETS)
)
def test_the_text_is_isoformat_in_utc(instant: datetime) -> None:
    expected = instant.astimezone(UTC).isoformat()
    assert utc_iso(instant) == expected
    assert utc_iso_json(instant) == orjson.dumps(expected)


def test_microseconds_only_when_non_zero() -> None:
    assert utc_iso(datetime(2026, 3, 1, 2, 0, tzinfo=UTC)) == "2026-03-01T02:00:00+00:00"
    moment = datetime(2026, 3, 1, 10, 0, 0, 5, tzinfo=timezone(timedelta(hours=8)))
    assert utc_iso(moment) == "2026-03-01T02:00:00.000005+00:00"
