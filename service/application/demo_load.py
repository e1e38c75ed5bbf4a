"""Loading the demo quarter through the ingestion path: validated, appended in atomic batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.application.services import Services
from service.demo import generate
from service.events.envelope import parse_event
from service.store.log.appender import EventAppender

BATCH_SIZE = 500
METADATA = {"actor": "funnel-ledger demo"}


@dataclass(frozen=True, slots=True)
class LoadReport:
    """How many events were new and how many were already stored."""

    created: int
    duplicates: int


async def load(
    appender: EventAppender, raw_events: Sequence[dict[str, Any]], batch_size: int = BATCH_SIZE
) -> LoadReport:
    """Validate and append the events in order, `batch_size` per atomic batch."""
    now = datetime.now(UTC)
    created = duplicates = 0
    for first in range(0, len(raw_events), batch_size):
        batch = [parse_event(raw, now=now) for raw in raw_events[first : first + batch_size]]
        results = await appender.append(batch, METADATA)
        new = sum(result.status == "created" for result in results)
        created, duplicates = created + new, duplicates + len(results) - new
    return LoadReport(created, duplicates)


async def load_demo(services: Services, *, seed: int, reps: int, quarter: str) -> LoadReport:
    """Generate the demo quarter in the company time zone and load it into the database."""
    events = generate(seed=seed, reps=reps, quarter=quarter, zone=services.settings.zone)
    return await load(services.appender, events)
