"""When a meeting page may be reused: same parameters, same position, the same events seen."""

from datetime import UTC, datetime, timedelta

from service.application.meeting_cache import MeetingCache, page_key

NEWEST = datetime(2026, 3, 1, tzinfo=UTC)


def test_every_known_at_from_the_newest_event_on_shares_one_key():
    later = NEWEST + timedelta(hours=5)
    assert page_key("weekly", 1, known_at=NEWEST, position=7, newest_recorded_at=NEWEST) == (
        page_key("weekly", 1, known_at=later, position=7, newest_recorded_at=NEWEST)
    )


def test_an_earlier_known_at_another_position_or_other_parameters_are_other_keys():
    key = page_key("weekly", 1, known_at=NEWEST, position=7, newest_recorded_at=NEWEST)
    earlier = NEWEST - timedelta(microseconds=1)
    assert key != page_key("weekly", 1, known_at=earlier, position=7, newest_recorded_at=NEWEST)
    assert key != page_key("weekly", 1, known_at=NEWEST, position=8, newest_recorded_at=NEWEST)
    assert key != page_key("weekly", 2, known_at=NEWEST, position=7, newest_recorded_at=NEWEST)


def test_the_cache_forgets_the_least_recently_used():
    cache = MeetingCache(size=2)
    cache.put(("a",), 1)
    cache.put(("b",), 2)
    assert cache.get(("a",)) == 1
    cache.put(("c",), 3)
    assert cache.get(("b",)) is None
    assert (cache.get(("a",)), cache.get(("c",))) == (1, 3)
