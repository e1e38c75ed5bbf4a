"""Rebuilding the read models from position 0 into the spare generation, then swapping it in.

The service keeps answering from the live generation meanwhile. Both generations are tables the
migrations created (`service.store.projection.generations`): the rebuild loads the spare's
partitions bare, has their declared indexes built by attaching them to their `_next` parents, and
swaps. The swap happens in one transaction that holds the projector's checkpoint: it catches the
spare up with whatever arrived during the rebuild, exchanges the partitions and moves the
checkpoint, so readers see either the old generation or the new one, never a mix.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.vocabulary import REP_SUBJECT_PREFIX, RETRACTION, TEAM_ASSIGNMENT
from service.projections.facts import FLOW_KINDS
from service.projections.rule_text import sql_list, sql_text
from service.projections.rules import RULES, FlowKind
from service.store.log.event_rows import FOLD_COLUMNS, fetch_batch, occurred_in_range
from service.store.projection import checkpoints
from service.store.projection.generations import NEXT, analyze_live, attach_spare, strip, swap
from service.store.projection.older_shapes import in_current_shape, write_older_shapes
from service.store.projection.plan_writer import PLAN_TYPES
from service.store.projection.read_model_writer import READ_MODELS, Tables, apply_batch
from service.store.projection.segment_rebuild import rebuild_segments

_HEAD = "SELECT COALESCE(max(position), 0) FROM events"
REBUILD_LOCK = 7_351_003
PARALLEL_FROM = 100_000
"""Events in the log from which a rebuild folds the deals in one process per core."""
_AFTER_HEAD = f"SELECT {FOLD_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT 5000"
_log = logging.getLogger(__name__)
_T = TypeVar("_T")

Progress = Callable[[int, int], None]
"""Called with (events done, events in all) as the rebuild advances."""
BeforeSwap = Callable[[Tables, int], Awaitable[None]]
"""Called with the loaded, indexed spare partitions and the position they are complete up to,
just before the swap (the in-memory copy preloads them there)."""


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild did."""

    events: int
    deals: int
    position: int


class RebuildRunning(Exception):  # noqa: N818 - a state, not a bug
    """Another rebuild of this database is under way."""


async def rebuild(
    engine: AsyncEngine,
    *,
    chunk: int = 10_000,
    progress: Progress | None = None,
    workers: int | None = None,
    before_swap: BeforeSwap | None = None,
) -> RebuildReport:
    """Rebuild every read model from the log and swap the result in atomically.

    The per-event rows (bulk SQL) and the deal segments (folded deal by deal, copied in) are
    loaded at the same time into unindexed fresh tables; events are immutable, so bounding both
    by the head read first is all they need to agree. Indexes are built after the load.
    The deals are folded by `workers` processes (by default one per core once the log holds
    `PARALLEL_FROM` events, else in this process). `before_swap` sees the spare generation
    complete up to the head read first, before the swap catches it up and puts it in place.
    One rebuild at a time per database (a session advisory lock); another gets `RebuildRunning`.
    """
    async with engine.connect() as guard:
        taken = await guard.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": REBUILD_LOCK})
        if not taken.scalar_one():
            raise RebuildRunning("a rebuild of the read models is already running")
        try:
            return await _rebuild_locked(engine, chunk, progress, workers, before_swap)
        finally:
            await guard.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REBUILD_LOCK})
            await guard.commit()


async def _rebuild_locked(
    engine: AsyncEngine,
    chunk: int,
    progress: Progress | None,
    workers: int | None,
    before_swap: BeforeSwap | None,
) -> RebuildReport:
    await _timed("statistics of the log", _analyze_log(engine))
    async with engine.begin() as conn:
        spare = await strip(conn)
        head = int((await conn.execute(text(_HEAD))).scalar_one())
    tracker = _Tracker(progress, total=head)
    began = time.perf_counter()
    # A task group: if one pass fails, the other is cancelled and its connection returned.
    async with asyncio.TaskGroup() as passes:
        passes.create_task(_timed("per-event rows", _rebuild_rows(engine, head, spare, tracker)))
        segments = passes.create_task(
            _timed(
                "deal segments",
                rebuild_segments(
                    engine,
                    head,
                    spare.segments,
                    chunk=chunk,
                    advance=tracker.advance,
                    workers=workers or _default_workers(head),
                ),
            )
        )
    deals = segments.result()
    await _timed("indexes and vacuum", attach_spare(engine, spare))
    await _timed("events of older shapes", write_older_shapes(engine, head, NEXT))
    if before_swap is not None:
        await _timed("before the swap", before_swap(spare, head))
    position = await _timed("swap", _swap(engine, head, spare))
    await _timed("statistics", analyze_live(engine))
    tracker.finish()
    _log.info("rebuilt %s events of %s deals in %.1f s", head, deals, time.perf_counter() - began)
    return RebuildReport(events=head, deals=deals, position=position)


async def _analyze_log(engine: AsyncEngine) -> None:
    """Fresh statistics of the log before the bulk statements are planned.

    Right after a large import autovacuum may not have analyzed the events yet: planned on the
    old figures, the per-event rows' statement ran for three to four minutes of a rebuild of a
    million events (183 and 272 s in all, against 20 s once analyzed). Sampling costs about a
    second.
    """
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE events"))


def _default_workers(head: int) -> int:
    """One fold process per core for a large log; below `PARALLEL_FROM` events, starting the
    processes would cost more than they save."""
    return max(1, os.cpu_count() or 1) if head >= PARALLEL_FROM else 1


async def _timed(step: str, work: Awaitable[_T]) -> _T:
    """`work`'s result, its duration logged."""
    began = time.perf_counter()
    result = await work
    _log.info("rebuild: %s took %.2f s", step, time.perf_counter() - began)
    return result


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


# The retraction (if any, up to the head) of each event: its `recorded_at` is the row's
# `retracted_at`, as the writer's retraction marks set it. At most one retraction names an event.
_RETRACTED = (
    "LEFT JOIN events r ON r.type = '" + RETRACTION + "' AND r.position <= :head "
    "AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id"
)
# Events out of range are never projected (`event_rows.foldable`); a retraction's time does not
# matter, so `_RETRACTED` takes any.
_IN_RANGE = occurred_in_range("e")


def _folded_here() -> str:
    """Rows the bulk statements fold: in the current shape (older ones follow) and in range.

    Built when a statement is, so that a shape registered since import is taken into account.
    """
    return f"{in_current_shape('e')} AND {_IN_RANGE}"


def _flow_facts_sql(tables: Tables) -> str:
    """`flow_fact` in SQL, generated from the same kind table; tests prove them equal.

    Retraction marks and the repeat flags (`flag_repeats`) are set in the same statement.
    """
    kinds = " ".join(
        f"WHEN {sql_text(event_type)} THEN {sql_text(kind)}"
        for event_type, kind in FLOW_KINDS.items()
    )
    types = sql_list(list(FLOW_KINDS))
    money = sql_list(RULES.money_kind.event_types)
    split = sql_list(RULES.split_kind.event_types)
    field = sql_text(RULES.split_field)
    per_event = sql_list([flow.name for flow in RULES.flows if flow.per_event])
    repeated = f"f.kind NOT IN ({per_event}) AND count(*) OVER (PARTITION BY f.deal_id, f.kind) > 1"
    return (
        f"INSERT INTO {tables.facts} (position, deal_id, kind, rep_id, occurred_at, recorded_at, "
        "retracted_at, amount, currency, visit_kind, measure, repeats_for_rep, repeats_for_deal) "
        "SELECT f.*, "
        f"{repeated} AND count(*) OVER (PARTITION BY f.deal_id, f.kind, f.rep_id) > 1, "
        f"{repeated} "
        f"FROM (SELECT e.position, e.subject AS deal_id, CASE e.type {kinds} END AS kind, "
        "e.data->>'rep_id' AS rep_id, e.occurred_at, e.recorded_at, "
        "r.recorded_at AS retracted_at, "
        f"CASE WHEN e.type IN ({money}) THEN (e.data->>'amount')::numeric END, "
        f"CASE WHEN e.type IN ({money}) THEN e.data->>'currency' END, "
        f"CASE WHEN e.type IN ({split}) THEN e.data->>{field} {_subcount_cases()} END, "
        f"CASE {_measure_cases()} END "
        f"FROM events e {_RETRACTED} "
        f"WHERE e.position <= :head AND e.type IN ({types}) AND {_folded_here()} "
        f"AND {_admitted()} "
        f"AND e.subject NOT LIKE '{REP_SUBJECT_PREFIX}%' AND e.subject NOT LIKE 'team:%' "
        "AND e.subject NOT LIKE 'account:%') AS f"
    )


def _subcount_sql(flow: FlowKind) -> str:
    """`FlowKind.in_subcount` of `e` in SQL (a kind with a sub-count)."""
    assert flow.subcount is not None
    value = f"(e.data->>{sql_text(flow.subcount.field)})"
    # `SubCount.matches`: an ASCII text equal to one of the values, ignoring ASCII case.
    return (
        f"e.type IN ({sql_list(flow.event_types)}) "
        f"AND octet_length({value}) = char_length({value}) "
        f"AND lower({value}) IN ({sql_list(flow.subcount.values)})"
    )


def _subcount_cases() -> str:
    """`WHEN`s giving a fact's `visit_kind` for the kinds with a sub-count."""
    return " ".join(
        f"WHEN {_subcount_sql(flow)} THEN {sql_text(flow.subcount.number)}"
        for flow in RULES.event_kinds
        if flow.subcount is not None
    )


def _measure_cases() -> str:
    """`WHEN`s giving a fact's `measure` (`FlowKind.measured`), or NULL."""
    cases = []
    for flow in RULES.event_kinds:
        if flow.measure is None:
            continue
        condition = f"e.type IN ({sql_list(flow.event_types)})"
        if flow.measure.of_subcount:
            condition = _subcount_sql(flow)
        value = f"e.data->{sql_text(flow.measure.field)}"
        cases.append(
            f"WHEN {condition} THEN CASE WHEN jsonb_typeof({value}) = 'number' "
            f"THEN ({value})::bigint ELSE 0 END"
        )
    return " ".join(cases) or "WHEN false THEN NULL"


def _admitted() -> str:
    """`FlowKind.admits` in SQL: an event of a kind with `only` counts if its data says so."""
    terms = [
        f"(e.type NOT IN ({sql_list(flow.event_types)}) OR ("
        + " AND ".join(
            f"e.data->>{sql_text(field)} = {sql_text(value)}" for field, value in flow.only
        )
        + "))"
        for flow in RULES.flows
        if flow.only
    ]
    return " AND ".join(terms) or "true"


def _team_rows_sql(tables: Tables) -> str:
    """The team-assignment rows in SQL, as `read_model_writer` writes them."""
    return (
        f"INSERT INTO {tables.teams} (position, rep_id, team_id, valid_from, recorded_at, "
        "retracted_at) "
        f"SELECT e.position, substr(e.subject, {len(REP_SUBJECT_PREFIX) + 1}), "
        "e.data->>'team_id', e.occurred_at, e.recorded_at, r.recorded_at "
        f"FROM events e {_RETRACTED} "
        f"WHERE e.position <= :head AND e.type = '{TEAM_ASSIGNMENT}' AND {_folded_here()}"
    )


def _plan_rows_sql(tables: Tables) -> str:
    """The plan rows in SQL, as `plan_writer` writes them."""
    types = ", ".join(f"'{event_type}'" for event_type in PLAN_TYPES)
    return (
        f"INSERT INTO {tables.plans} (position, subject, type, valid_from, recorded_at, "
        "retracted_at, data) "
        "SELECT e.position, e.subject, e.type, e.occurred_at, e.recorded_at, r.recorded_at, "
        f"e.data FROM events e {_RETRACTED} "
        f"WHERE e.position <= :head AND e.type IN ({types}) AND {_folded_here()}"
    )


async def _rebuild_rows(engine: AsyncEngine, head: int, spare: Tables, tracker: _Tracker) -> None:
    """Per-event rows: facts, teams and plans, each in one bulk statement into a bare spare."""
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL work_mem = '256MB'"))
        for statement in (_flow_facts_sql(spare), _team_rows_sql(spare), _plan_rows_sql(spare)):
            await conn.execute(text(statement), {"head": head})
    tracker.advance(head)


async def _swap(engine: AsyncEngine, head: int, spare: Tables) -> int:
    """Catch the spare generation up past `head`, then put it in place of the live one."""
    async with engine.begin() as conn:
        await checkpoints.load(conn, READ_MODELS, lock=True)
        after = head
        while (batch := await fetch_batch(conn, _AFTER_HEAD, after)).read:
            await apply_batch(conn, batch.events, NEXT)
            after = batch.last_position
        await swap(conn, spare)
        await checkpoints.advance(conn, READ_MODELS, after)
        _log.info("read models rebuilt up to position %s and swapped in", after)
        return after
