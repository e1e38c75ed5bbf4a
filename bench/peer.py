"""The peer: the `eventsourcing` library's PostgreSQL backend, on the same events and server."""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy.engine import make_url


def _environment(database_url: str) -> dict[str, str]:
    url = make_url(database_url)
    host = url.query.get("host") or url.host or "127.0.0.1"
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database or "postgres",
        "POSTGRES_HOST": str(host),
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
    }


def _measure(database_url: str, events: list[dict[str, Any]]) -> dict[str, float]:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Deal(Aggregate):
        """A deal as an eventsourcing aggregate: one recorded event per contract event."""

        def __init__(self, deal_id: str) -> None:
            self.deal_id = deal_id
            self.count = 0

        @event("Happened")
        def happened(self, kind: str, time: str, data: dict[str, Any]) -> None:
            self.count += 1

    os.environ.update(_environment(database_url))
    app: Application[Any] = Application()
    single = events[: max(1, len(events) // 10)]
    began = time.perf_counter()
    for item in single:
        fresh = Deal(item["subject"])
        fresh.happened(item["type"], item["time"], item["data"])
        app.save(fresh)
    single_rate = 2 * len(single) / (time.perf_counter() - began)
    aggregates: dict[str, Deal] = {}
    for item in events:
        deal = aggregates.get(item["subject"])
        if deal is None:
            deal = aggregates[item["subject"]] = Deal(item["subject"] + "-bulk")
        deal.happened(item["type"], item["time"], item["data"])
    began = time.perf_counter()
    # In chunks: one save of thousands of aggregates stalls psycopg's pipeline.
    everything = list(aggregates.values())
    for start in range(0, len(everything), 200):
        app.save(*everything[start : start + 200])
    bulk_rate = (len(events) + len(aggregates)) / (time.perf_counter() - began)
    began = time.perf_counter()
    replayed = sum(1 for _ in app.recorder.select_notifications(start=1, limit=10**9))
    replay_rate = replayed / (time.perf_counter() - began)
    return {
        "single_save_events_per_s": round(single_rate),
        "bulk_save_events_per_s": round(bulk_rate),
        "replay_events_per_s": round(replay_rate),
    }


async def compare(database_url: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The peer's rates, or why they could not be measured."""
    try:
        return _measure(database_url, events)
    except ImportError:
        return {"skipped": "install the bench extra: pip install -e '.[bench]'"}
