"""Running an import: validate every event first, then append in atomic batches.

Nothing is stored unless the whole input is valid (and, with `strict`, nothing was skipped).
Batches of 1000 events go through the store's one write path, so `(source, id)` makes a
re-run store nothing new, and an interrupted import is finished by running it again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import CloudEvent, EnvelopeError, parse_event
from service.importers.report import Summary
from service.importers.rows import InvalidInput, Origin, Plan
from service.store.errors import AppendRejected
from service.store.log.appender import AppendResult, EventAppender
from service.store.log.stored_keys import stored_fingerprints

BATCH_SIZE = 1000
IN_FLIGHT = 2


@dataclass(frozen=True, slots=True)
class Checked:
    """An event validated as the contract says, with the row it came from."""

    origin: Origin
    event: CloudEvent


class ImportFailed(Exception):  # noqa: N818 - an outcome reported to the user
    """The import stopped; `stored` events were stored before it did (0: nothing)."""

    def __init__(self, message: str, stored: int = 0) -> None:
        super().__init__(message)
        self.stored = stored


def validate(plan: Plan, now: datetime, *, in_time_order: bool) -> list[Checked]:
    """Every drafted event validated; `InvalidInput` names the first invalid one's row.

    `in_time_order` sorts them by `time` (a deal's creation before its first stage at the same
    instant), so that each stream's versions follow its history; otherwise the input's order
    is kept (a retraction after the event it names).
    """
    checked: list[tuple[datetime, int, int, Checked]] = []
    seen: dict[tuple[str, str], Checked] = {}
    for index, draft in enumerate(plan.drafts):
        try:
            event = parse_event(draft.event, now=now)
        except EnvelopeError as exc:
            raise InvalidInput(draft.origin, f"not a valid event: {exc}") from None
        item = Checked(draft.origin, event)
        twin = seen.get(event.key)
        if twin is not None:
            if twin.event.fingerprint() != event.fingerprint():
                raise InvalidInput(
                    draft.origin, f"event id {event.id!r} also made by {twin.origin}"
                )
            continue
        seen[event.key] = item
        checked.append((event.time, draft.rank, index, item))
    if in_time_order:
        checked.sort()  # `index` is unique: the items themselves are never compared
    return [entry[3] for entry in checked]


async def dry_run(engine: AsyncEngine, events: Sequence[Checked], summary: Summary) -> None:
    """Count what would be created and what is already stored; nothing is written."""
    stored = await stored_fingerprints(engine, [item.event.key for item in events])
    for item in events:
        known = stored.get(item.event.key)
        if known is None:
            summary.created += 1
        elif known == item.event.fingerprint():
            summary.duplicate += 1
        else:
            raise InvalidInput(item.origin, _conflict(item.event))


def _conflict(event: CloudEvent) -> str:
    return f"event ({event.source}, {event.id}) is already stored with other content"


async def append_all(
    appender: EventAppender,
    events: Sequence[Checked],
    summary: Summary,
    metadata: dict[str, str],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Append in batches of `BATCH_SIZE`, counting created and duplicate events.

    Two batches are in flight: one is prepared (hashed, encoded) while the other is written,
    as two HTTP clients would. A refused batch stops the import once the other is answered.
    """
    in_flight: deque[tuple[Sequence[Checked], asyncio.Task[list[AppendResult]]]] = deque()
    refusals: list[str] = []
    for start in range(0, len(events), BATCH_SIZE):
        batch = events[start : start + BATCH_SIZE]
        task = asyncio.create_task(appender.append([item.event for item in batch], metadata))
        in_flight.append((batch, task))
        if len(in_flight) >= IN_FLIGHT:
            refusals += await _answered(*in_flight.popleft(), summary, progress)
        if refusals:
            break
    while in_flight:  # a batch sent is answered: its outcome is part of what was stored
        refusals += await _answered(*in_flight.popleft(), summary, progress)
    if refusals:
        message = f"refused by the ledger: {'; '.join(refusals[:5])}"
        raise ImportFailed(message, stored=summary.created)


async def _answered(
    batch: Sequence[Checked],
    task: asyncio.Task[list[AppendResult]],
    summary: Summary,
    progress: Callable[[int], None] | None,
) -> list[str]:
    """Count a batch's outcome; the reasons it was refused, if it was."""
    try:
        results = await task
    except AppendRejected as exc:
        return [f"{batch[item.index].origin}: {item.detail}" for item in exc.items]
    created = sum(result.status == "created" for result in results)
    summary.created += created
    summary.duplicate += len(results) - created
    if progress is not None:
        progress(len(batch))
    return []


async def verify_stored(engine: AsyncEngine, events: Sequence[Checked]) -> bool:
    """Whether every event is stored with the content it was imported with."""
    stored = await stored_fingerprints(engine, [item.event.key for item in events])
    return all(stored.get(item.event.key) == item.event.fingerprint() for item in events)
