"""The rebuild's per-event rows of events stored in an older shape of their type's data.

A rebuild writes flow facts, team assignments and plan rows with bulk SQL over the stored JSON,
which knows only current shapes. Events stored at another schema version are left out of those
statements (`in_current_shape`) and written here instead: read back as `RecordedEvent`s (their
data upcast, `service.events.upcasting`) and inserted by the projector's own writers, so both
paths give the same rows. Deal segments need nothing of this: they are folded from
`RecordedEvent`s already.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.upcasting import CONTRACT_VERSION, HISTORIES
from service.events.vocabulary import RETRACTION
from service.store.log.event_rows import FOLD_COLUMNS, fetch_batch
from service.store.projection.read_model_writer import Tables, insert_flow_rows

CHUNK = 5000


def in_current_shape(alias: str) -> str:
    """An SQL condition: the event `alias` (a row of `events`) is stored in its current shape."""
    current = str(CONTRACT_VERSION)
    if HISTORIES:
        versions = " ".join(f"WHEN '{kind}' THEN {h.current}" for kind, h in HISTORIES.items())
        current = f"CASE {alias}.type {versions} ELSE {current} END"
    return f"{alias}.schema_version = {current}"


async def write_older_shapes(engine: AsyncEngine, head: int, tables: Tables) -> int:
    """Write the rows of the events up to `head` that are not stored in their current shape.

    Run after the bulk statements and the indexes (the writers rely on the unique positions);
    returns how many such events there were.
    """
    older = (
        f"SELECT {FOLD_COLUMNS} FROM events e WHERE e.position > $1 AND e.position <= $2 "
        f"AND NOT ({in_current_shape('e')}) ORDER BY e.position LIMIT {CHUNK}"
    )
    count = 0
    async with engine.begin() as conn:
        after = 0
        # A chunk may hold only rows out of the accepted range, which fold to nothing: go on
        # while rows were read, not while events came back.
        while (batch := await fetch_batch(conn, older, after, head)).read:
            events = batch.events
            await insert_flow_rows(conn, events, tables)
            await _mark_retracted(conn, [event.position for event in events], head, tables)
            count += len(events)
            after = batch.last_position
    return count


async def _mark_retracted(
    conn: AsyncConnection, positions: list[int], head: int, tables: Tables
) -> None:
    """Stamp these events' rows with the time of their retraction up to `head`, if any."""
    for table in (tables.facts, tables.teams, tables.plans):
        await conn.execute(
            text(
                f"UPDATE {table} AS t SET retracted_at = r.recorded_at "
                f"FROM events e JOIN events r ON r.type = '{RETRACTION}' AND r.position <= :head "
                "AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id "
                "WHERE e.position = ANY(CAST(:p AS bigint[])) AND t.position = e.position"
            ),
            {"p": positions, "head": head},
        )
