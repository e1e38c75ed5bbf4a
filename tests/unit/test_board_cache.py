"""When a scoreboard answer may be reused, and for how long."""

from datetime import UTC, datetime, timedelta

from service.application.board_cache import BoardCache, cache_key
from service.projections import compute_scoreboard

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
OLD = datetime.now(UTC) - timedelta(hours=1)


def recent(seconds: float = 30) -> datetime:
    """An instant `seconds` ago, taken when the test runs (the final horizon moves)."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


def test_a_complete_answer_about_the_past_is_final_whatever_the_position():
    assert cache_key(START, END, OLD, "rep", 7, recent(), True) == cache_key(
        START, END, OLD, "rep", 9, recent(0), True
    )


def test_a_lagging_answer_is_never_final():
    assert cache_key(START, END, OLD, "rep", 7, recent(), False)[-1] == 7


def test_instants_after_the_newest_event_share_one_key_per_position():
    newest, asked = recent(40), recent(30)
    assert cache_key(START, END, asked, "rep", 7, newest, True) == cache_key(
        START, END, recent(0), "rep", 7, newest, True
    )
    assert cache_key(START, END, asked, "rep", 7, newest, True) != cache_key(
        START, END, asked, "rep", 8, newest, True
    )


def test_an_instant_before_the_newest_event_keeps_its_own_key():
    asked = recent(30)
    assert cache_key(START, END, asked, "rep", 7, recent(0), True) == (START, END, asked, "rep", 7)


def test_the_cache_forgets_the_least_recently_used():
    cache = BoardCache(size=2)
    board = compute_scoreboard([], start=START, end=END, known_at=None, group_by="rep")
    keys = [
        cache_key(START, END, OLD - timedelta(days=n), "rep", 1, recent(0), True) for n in range(3)
    ]
    cache.put(keys[0], board)
    cache.put(keys[1], board)
    assert cache.get(keys[0]) is board
    cache.put(keys[2], board)
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is board
