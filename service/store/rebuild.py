"""Rebuilding the read models from position 0 into fresh tables, then swapping them in.

The service keeps answering from the live tables meanwhile. The swap happens in one transaction
that holds the projector's checkpoint: it catches the new tables up with whatever arrived during
the rebuild, renames them into place and moves the checkpoint, so readers see either the old
generation or the new one, never a mix.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.recorded import RecordedEvent
from service.events.vocabulary import REP_SUBJECT_PREFIX, RETRACTION, TEAM_ASSIGNMENT
from service.projections.bitemporal import deal_history
from service.projections.facts import FLOW_KINDS
from service.store import checkpoints
from service.store.plan_writer import PLAN_TYPES
from service.store.read_model_writer import (
    LIVE,
    READ_MODELS,
    Tables,
    apply_batch,
    flag_repeats,
    insert_flow_rows,
    replace_segments,
)
from service.store.reader import to_recorded

NEXT = Tables(*(f"{name}_next" for name in LIVE.all()))
OLD = Tables(*(f"{name}_old" for name in LIVE.all()))
_HEAD = "SELECT COALESCE(max(position), 0) FROM events"
REBUILD_LOCK = 7_351_003
_COLUMNS = (
    "position, subject, stream_version, source, event_id, type, occurred_at, recorded_at, data, "
    "metadata, schema_version"
)
_log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (events done, events in all) as the rebuild advances."""


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild did."""

    events: int
    deals: int
    position: int


class RebuildRunning(Exception):  # noqa: N818 - a state, not a bug
    """Another rebuild of this database is under way."""


async def rebuild(
    engine: AsyncEngine, *, chunk: int = 5000, progress: Progress | None = None
) -> RebuildReport:
    """Rebuild every read model from the log and swap the result in atomically.

    The per-event rows and the deal segments are built at the same time on two connections;
    events are immutable, so bounding both by the head read first is all they need to agree.
    One rebuild at a time per database (a session advisory lock); another gets `RebuildRunning`.
    """
    async with engine.connect() as guard:
        taken = await guard.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": REBUILD_LOCK})
        if not taken.scalar_one():
            raise RebuildRunning("a rebuild of the read models is already running")
        try:
            return await _rebuild_locked(engine, chunk, progress)
        finally:
            await guard.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REBUILD_LOCK})
            await guard.commit()


async def _rebuild_locked(
    engine: AsyncEngine, chunk: int, progress: Progress | None
) -> RebuildReport:
    async with engine.begin() as conn:
        await _create_next(conn)
        head = int((await conn.execute(text(_HEAD))).scalar_one())
    tracker = _Tracker(progress, total=head)
    # A task group: if one pass fails, the other is cancelled and its connection returned.
    async with asyncio.TaskGroup() as passes:
        passes.create_task(_rebuild_rows(engine, head, chunk, tracker))
        segments = passes.create_task(_rebuild_segments(engine, head, chunk, tracker))
    deals = segments.result()
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in NEXT.all():
            await conn.execute(text(f"VACUUM ANALYZE {table}"))
    position = await _swap(engine, head)
    tracker.finish()
    return RebuildReport(events=head, deals=deals, position=position)


class _Tracker:
    """Adds up progress from both passes; each event counts once in each pass."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self._progress = progress
        self._total = 2 * total
        self._done = 0

    def advance(self, count: int) -> None:
        self._done = min(self._total, self._done + count)
        if self._progress is not None:
            self._progress(self._done, self._total)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress(self._total, self._total)


async def _create_next(conn: AsyncConnection) -> None:
    for live, fresh in zip(LIVE.all(), NEXT.all(), strict=True):
        await conn.execute(text(f"DROP TABLE IF EXISTS {fresh}"))
        await conn.execute(text(f"CREATE TABLE {fresh} (LIKE {live} INCLUDING ALL)"))


def _flow_facts_sql(tables: Tables) -> str:
    """`flow_fact` in SQL, generated from the same kind table; tests prove them equal."""
    kinds = " ".join(
        f"WHEN '{event_type}' THEN '{kind}'" for event_type, kind in FLOW_KINDS.items()
    )
    types = ", ".join(f"'{event_type}'" for event_type in FLOW_KINDS)
    return (
        f"INSERT INTO {tables.facts} (position, deal_id, kind, rep_id, occurred_at, recorded_at, "
        "amount, currency, visit_kind) "
        f"SELECT position, subject, CASE type {kinds} END, data->>'rep_id', occurred_at, "
        "recorded_at, "
        "CASE WHEN type = 'deal.contract_signed' THEN (data->>'amount')::numeric END, "
        "CASE WHEN type = 'deal.contract_signed' THEN data->>'currency' END, "
        "CASE WHEN type = 'visit.completed' THEN data->>'kind' END "
        f"FROM events WHERE position <= :head AND type IN ({types}) "
        f"AND subject NOT LIKE '{REP_SUBJECT_PREFIX}%' AND subject NOT LIKE 'team:%'"
    )


def _team_rows_sql(tables: Tables) -> str:
    """The team-assignment rows in SQL, as `read_model_writer` writes them."""
    return (
        f"INSERT INTO {tables.teams} (position, rep_id, team_id, valid_from, recorded_at) "
        f"SELECT position, substr(subject, {len(REP_SUBJECT_PREFIX) + 1}), data->>'team_id', "
        "occurred_at, recorded_at FROM events "
        f"WHERE position <= :head AND type = '{TEAM_ASSIGNMENT}'"
    )


async def _rebuild_rows(engine: AsyncEngine, head: int, chunk: int, tracker: _Tracker) -> None:
    """Per-event rows: facts and teams in bulk SQL, then the rest and retraction marks."""
    async with engine.begin() as conn:
        await conn.execute(text(_flow_facts_sql(NEXT)), {"head": head})
        await flag_repeats(conn, NEXT, None)
        await conn.execute(text(_team_rows_sql(NEXT)), {"head": head})
    others = sorted({RETRACTION, *PLAN_TYPES})
    async with engine.connect() as reader:
        result = await reader.stream(
            text(
                f"SELECT {_COLUMNS} FROM events WHERE position <= :head "
                "AND type = ANY(CAST(:types AS text[])) ORDER BY position"
            ),
            {"head": head, "types": others},
        )
        async for rows in result.partitions(chunk):
            events = [to_recorded(row) for row in rows]
            async with engine.begin() as conn:
                await insert_flow_rows(conn, events, NEXT)
    tracker.advance(head)


_INDEXES = text(
    "SELECT indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = current_schema() AND tablename = :table"
)


def _shape(indexdef: str, index: str, table: str) -> str:
    """An index definition with its own and its table's names taken out."""
    return (
        indexdef.replace(f"INDEX {index} ON", "INDEX ON")
        .replace(f" {table} ", " ")
        .replace(f".{table} ", " ")
    )


async def _index_names(conn: AsyncConnection, table: str) -> dict[str, str]:
    """Index shape → index name, for one table."""
    rows = await conn.execute(_INDEXES, {"table": table})
    return {_shape(row.indexdef, row.indexname, table): row.indexname for row in rows}


async def _restore_index_names(conn: AsyncConnection, table: str, names: dict[str, str]) -> None:
    """Give the swapped-in table's indexes the names the migrations created them with."""
    for shape, current in (await _index_names(conn, table)).items():
        wanted = names.get(shape)
        if wanted is not None and wanted != current:
            await conn.execute(text(f'ALTER INDEX "{current}" RENAME TO "{wanted}"'))


def _subject(event: RecordedEvent) -> str:
    return event.subject


async def _rebuild_segments(engine: AsyncEngine, head: int, chunk: int, tracker: _Tracker) -> int:
    """Deal segments: each deal's whole stream at once, deal after deal."""
    deals = 0
    pending: list[RecordedEvent] = []
    async with engine.connect() as reader:
        result = await reader.stream(
            text(
                f"SELECT {_COLUMNS} FROM events WHERE position <= :head "
                "AND subject NOT LIKE 'rep:%' AND subject NOT LIKE 'team:%' "
                "ORDER BY subject, stream_version"
            ),
            {"head": head},
        )
        async for rows in result.partitions(chunk):
            pending.extend(to_recorded(row) for row in rows)
            # The last subject of the chunk may continue in the next one.
            last = pending[-1].subject
            ready = [e for e in pending if e.subject != last]
            pending = [e for e in pending if e.subject == last]
            deals += await _write_histories(engine, ready)
            tracker.advance(len(ready))
        deals += await _write_histories(engine, pending)
    return deals


async def _write_histories(engine: AsyncEngine, events: list[RecordedEvent]) -> int:
    if not events:
        return 0
    histories = {deal: deal_history(list(s)) for deal, s in groupby(events, key=_subject)}
    async with engine.begin() as conn:
        await replace_segments(conn, histories, NEXT, delete_first=False)
    return len(histories)


async def _swap(engine: AsyncEngine, head: int) -> int:
    """Catch the new tables up past `head`, then put them in place of the live ones."""
    async with engine.begin() as conn:
        await checkpoints.load(conn, READ_MODELS, lock=True)
        after = head
        while True:
            rows = await conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM events WHERE position > :after "
                    "ORDER BY position LIMIT 5000"
                ),
                {"after": after},
            )
            events = [to_recorded(row) for row in rows]
            if not events:
                break
            await apply_batch(conn, events, NEXT)
            after = events[-1].position
        names = {live: await _index_names(conn, live) for live in LIVE.all()}
        for live, fresh, old in zip(LIVE.all(), NEXT.all(), OLD.all(), strict=True):
            await conn.execute(text(f"DROP TABLE IF EXISTS {old}"))
            await conn.execute(text(f"ALTER TABLE {live} RENAME TO {old}"))
            await conn.execute(text(f"ALTER TABLE {fresh} RENAME TO {live}"))
        for old in OLD.all():
            await conn.execute(text(f"DROP TABLE {old}"))
        for live in LIVE.all():
            await _restore_index_names(conn, live, names[live])
        await checkpoints.advance(conn, READ_MODELS, after)
        _log.info("read models rebuilt up to position %s and swapped in", after)
        return after
