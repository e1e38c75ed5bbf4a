"""What the fault tests check: honest 503s, the log exactly once, read models equal to the fold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import httpx

from service.events.recorded import RecordedEvent
from service.projections import GroupBy, compute_funnel, compute_scoreboard
from tests.reliability.harness import bearer
from tests.reliability.workload import QUARTER, Key

GROUPS: tuple[GroupBy, ...] = ("rep", "team", "all")
RETRYABLE = {"database-unavailable", "projection-lagging", "replica-lagging"}
_LEAKS = ("select ", "insert ", "traceback", "asyncpg", "sqlalchemy", "psycopg", 'file "')


def assert_retryable_problem(response: httpx.Response) -> None:
    """A `503` problem+json that says when to retry, and leaks no SQL, driver or trace."""
    assert response.status_code == 503, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert body["status"] == 503
    assert body["type"].rsplit("/", 1)[-1] in RETRYABLE, body
    text = response.text.lower()
    assert not [leak for leak in _LEAKS if leak in text], response.text


async def read_feed(http: httpx.AsyncClient, base: str, token: str) -> list[dict[str, Any]]:
    """The whole global feed, page after page."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await http.get(
            f"{base}/v1/events", params={"after": after, "limit": 1000}, headers=bearer(token)
        )
        assert page.status_code == 200, page.text
        body = page.json()
        events += body["events"]
        if not body["events"]:
            return events
        after = body["next_after"]


def recorded(item: dict[str, Any]) -> RecordedEvent:
    """A feed item as the pure fold takes it."""
    return RecordedEvent(
        position=item["position"],
        subject=item["subject"],
        stream_version=item["stream_version"],
        source=item["source"],
        id=item["id"],
        type=item["type"],
        occurred_at=datetime.fromisoformat(item["time"]),
        recorded_at=datetime.fromisoformat(item["recorded_at"]),
        data=item["data"],
        schema_version=item["schema_version"],
    )


def assert_exactly_once(feed: list[dict[str, Any]], acknowledged: Iterable[Key]) -> None:
    """Positions run 1..N without a gap; every acknowledged event is there exactly once."""
    assert [e["position"] for e in feed] == list(range(1, len(feed) + 1)), "the feed has a gap"
    stored = Counter((e["source"], e["id"]) for e in feed)
    doubled = [key for key, count in stored.items() if count > 1]
    assert not doubled, f"stored more than once: {doubled[:5]}"
    lost = [key for key in acknowledged if key not in stored]
    assert not lost, f"acknowledged but not stored: {lost[:5]}"


async def assert_read_models_match_fold(
    http: httpx.AsyncClient, base: str, token: str, log: list[RecordedEvent]
) -> None:
    """The quarter's scoreboards and funnel over HTTP equal the fold of `log` (waits for it)."""
    start, end = QUARTER
    head = log[-1].position if log else 0
    for group_by in GROUPS:
        params = {"from": start.date().isoformat(), "to": end.date().isoformat()}
        answer = await _get(http, base, token, "scoreboard", {**params, "group_by": group_by})
        assert answer["position"] >= head
        known_at = datetime.fromisoformat(answer["known_at"])
        folded = compute_scoreboard(
            log, start=start, end=end, known_at=known_at, group_by=group_by
        ).to_json()
        assert answer["rows"] == folded["rows"], group_by
        assert answer["totals"] == folded["totals"], group_by
    funnel = await _get(http, base, token, "funnel", {"as_of": "2026-03-31"})
    at, known_at = (datetime.fromisoformat(funnel[k]) for k in ("as_of", "known_at"))
    assert funnel["stages"] == compute_funnel(log, as_of=at, known_at=known_at, rep_id=None)


async def _get(
    http: httpx.AsyncClient, base: str, token: str, path: str, params: dict[str, str]
) -> dict[str, Any]:
    response = await http.get(f"{base}/v1/{path}", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
