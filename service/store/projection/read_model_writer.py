"""Writing the read models from a batch of events, inside the caller's transaction.

Flow facts and team assignments are one row per event; a retraction marks its target's row with
the transaction time it stopped counting. A deal's segments are a pure function of its stream
(`deal_history`), so every deal a batch touches has its segments replaced whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.recorded import RecordedEvent
from service.events.vocabulary import REP_SUBJECT_PREFIX, RETRACTION, TEAM_ASSIGNMENT
from service.projections.bitemporal import DealHistory, KnownSegment, deal_history
from service.projections.deal import is_deal
from service.projections.facts import flow_fact
from service.projections.rule_text import sql_list
from service.projections.rules import RULES
from service.store.log.event_rows import FOLD_COLUMNS, driver, fetch_events, streams_of
from service.store.projection.history_cache import HistoryCache
from service.store.projection.plan_writer import insert_plan_events
from service.store.projection.segment_rows import SEGMENT_COLUMNS, segment_records

READ_MODELS = "read_models"
DEAL_GROUP = 2000
"""How many deals `refold_deals` reads and folds at a time."""
_PER_EVENT = tuple(flow.name for flow in RULES.flows if flow.per_event)
"""The kinds counted per event: their facts are never flagged as repeats."""
_STREAMS = (
    f"SELECT {FOLD_COLUMNS} FROM events WHERE subject = ANY($1::text[]) AND position <= $2 "
    "ORDER BY subject, position"
)


@dataclass(frozen=True, slots=True)
class Tables:
    """The names of one generation of read-model tables (live, or being rebuilt)."""

    facts: str = "rm_flow_facts"
    teams: str = "rm_team_assignments"
    segments: str = "rm_deal_segments"
    plans: str = "rm_plan_events"

    def all(self) -> tuple[str, ...]:
        """Every table of the generation."""
        return (self.facts, self.teams, self.segments, self.plans)


LIVE = Tables()


async def apply_batch(
    conn: AsyncConnection, events: Sequence[RecordedEvent], tables: Tables = LIVE
) -> None:
    """Project `events` (consecutive positions of the log) into the read models."""
    if not events:
        return
    await insert_flow_rows(conn, events, tables)
    await refold_deals(conn, touched_deals(events), events[-1].position, tables)


def touched_deals(events: Iterable[RecordedEvent]) -> set[str]:
    """The deals among the subjects of `events`."""
    return {subject for subject in {e.subject for e in events} if is_deal(subject)}


async def refold_deals(
    conn: AsyncConnection,
    deals: Iterable[str],
    up_to: int,
    tables: Tables = LIVE,
    *,
    group: int = DEAL_GROUP,
) -> None:
    """Replace the segments of `deals` by the history of their streams up to `up_to`.

    Deals are read and folded `group` at a time, so memory stays bounded however many there are.
    """
    ordered = sorted(deals)
    for start in range(0, len(ordered), group):
        part = ordered[start : start + group]
        events = await fetch_events(conn, _STREAMS, part, up_to)
        histories = {deal: deal_history(stream) for deal, stream in streams_of(events)}
        await replace_segments(conn, histories, tables)


def new_deal_events(events: Iterable[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    """The events of `events` that belong to deal streams, by deal, in position order."""
    by_deal: dict[str, list[RecordedEvent]] = {}
    for event in events:
        subject = event.subject
        if subject in by_deal:
            by_deal[subject].append(event)
        elif is_deal(subject):
            by_deal[subject] = [event]
    return by_deal


async def fold_new_events(
    conn: AsyncConnection,
    new_events: Mapping[str, Sequence[RecordedEvent]],
    up_to: int,
    cache: HistoryCache,
    *,
    group: int = DEAL_GROUP,
) -> None:
    """`refold_deals` for the live read models, resuming the histories `cache` keeps.

    `new_events` are every event of each deal after the position the cache is at, up to
    `up_to`; a deal the cache holds takes in only those, any other (or one whose new events
    need its earlier ones) is read from the log and folded whole, and kept.
    """
    histories: dict[str, list[KnownSegment]] = {}
    missing: list[str] = []
    for deal, events in new_events.items():
        history = cache.take(deal)
        if history is None or not history.extend(events):
            missing.append(deal)
            continue
        cache.keep(deal, history)
        histories[deal] = history.segments()
    await replace_segments(conn, histories)
    missing.sort()
    for start in range(0, len(missing), group):
        part = missing[start : start + group]
        events = await fetch_events(conn, _STREAMS, part, up_to)
        read: dict[str, list[KnownSegment]] = {}
        for deal, stream in streams_of(events):
            history = DealHistory()
            history.extend(stream)
            cache.keep(deal, history)
            read[deal] = history.segments()
        await replace_segments(conn, read)


async def insert_flow_rows(
    conn: AsyncConnection, events: Sequence[RecordedEvent], tables: Tables = LIVE
) -> None:
    """The per-event rows of a batch: flow facts, team assignments, retraction marks."""
    await _insert_facts(conn, events, tables)
    await _insert_teams(conn, events, tables)
    await insert_plan_events(conn, events, tables.plans)
    await _mark_retracted(conn, events, tables)


async def _insert_facts(
    conn: AsyncConnection, events: Sequence[RecordedEvent], tables: Tables
) -> None:
    facts = [fact for fact in map(flow_fact, events) if fact is not None]
    if not facts:
        return
    await conn.execute(
        text(
            f"INSERT INTO {tables.facts} (position, deal_id, kind, rep_id, occurred_at, "
            "recorded_at, amount, currency, visit_kind, measure) "
            "SELECT * FROM unnest(CAST(:p AS bigint[]), CAST(:d AS text[]), CAST(:k AS text[]), "
            "CAST(:r AS text[]), CAST(:o AS timestamptz[]), CAST(:rec AS timestamptz[]), "
            "CAST(:a AS numeric[]), CAST(:c AS text[]), CAST(:v AS text[]), "
            "CAST(:m AS bigint[])) "
            "ON CONFLICT (position) DO NOTHING"
        ),
        {
            "p": [f.position for f in facts],
            "d": [f.deal_id for f in facts],
            "k": [f.kind for f in facts],
            "r": [f.rep_id for f in facts],
            "o": [f.occurred_at for f in facts],
            "rec": [f.recorded_at for f in facts],
            "a": [f.amount for f in facts],
            "c": [f.currency for f in facts],
            "v": [f.stored_kind for f in facts],
            "m": [f.measure for f in facts],
        },
    )
    await flag_repeats(
        conn, tables, [(f.deal_id, f.kind) for f in facts if f.kind not in _PER_EVENT]
    )


async def flag_repeats(
    conn: AsyncConnection, tables: Tables, groups: Sequence[tuple[str, str]] | None
) -> None:
    """Flag the facts of every (deal, kind) group, among `groups` (None: all), that has several.

    Counting then needs a distinct count only over flagged rows: a group's flags only ever go
    from false to true, so they stay right for any period and any `known_at`.
    """
    if groups is not None and not groups:
        return
    scope = (
        "WHERE (deal_id, kind) IN (SELECT * FROM unnest(CAST(:d AS text[]), CAST(:k AS text[])))"
        if groups is not None
        else f"WHERE kind NOT IN ({sql_list(_PER_EVENT)})"
    )
    await conn.execute(
        text(
            f"UPDATE {tables.facts} f SET repeats_for_deal = true, "
            "repeats_for_rep = c.per_rep > 1 "
            "FROM (SELECT position, count(*) OVER (PARTITION BY deal_id, kind) AS per_deal, "
            "count(*) OVER (PARTITION BY deal_id, kind, rep_id) AS per_rep "
            f"FROM {tables.facts} {scope}) AS c "
            "WHERE f.position = c.position AND c.per_deal > 1 "
            "AND (NOT f.repeats_for_deal OR f.repeats_for_rep <> (c.per_rep > 1))"
        ),
        {"d": [g[0] for g in groups or ()], "k": [g[1] for g in groups or ()]},
    )


async def _insert_teams(
    conn: AsyncConnection, events: Sequence[RecordedEvent], tables: Tables
) -> None:
    rows = [e for e in events if e.type == TEAM_ASSIGNMENT]
    if not rows:
        return
    await conn.execute(
        text(
            f"INSERT INTO {tables.teams} (position, rep_id, team_id, valid_from, recorded_at) "
            "SELECT * FROM unnest(CAST(:p AS bigint[]), CAST(:r AS text[]), CAST(:t AS text[]), "
            "CAST(:v AS timestamptz[]), CAST(:rec AS timestamptz[])) "
            "ON CONFLICT (position) DO NOTHING"
        ),
        {
            "p": [e.position for e in rows],
            "r": [e.subject[len(REP_SUBJECT_PREFIX) :] for e in rows],
            "t": [e.data["team_id"] for e in rows],
            "v": [e.occurred_at for e in rows],
            "rec": [e.recorded_at for e in rows],
        },
    )


async def _mark_retracted(
    conn: AsyncConnection, events: Sequence[RecordedEvent], tables: Tables
) -> None:
    retractions = [e for e in events if e.type == RETRACTION]
    if not retractions:
        return
    params: dict[str, Any] = {
        "s": [e.data["event_source"] for e in retractions],
        "i": [e.data["event_id"] for e in retractions],
        "rec": [e.recorded_at for e in retractions],
    }
    for table in (tables.facts, tables.teams, tables.plans):
        await conn.execute(
            text(
                f"UPDATE {table} AS t SET retracted_at = x.recorded_at "
                "FROM (SELECT e.position, u.recorded_at FROM unnest(CAST(:s AS text[]), "
                "CAST(:i AS text[]), CAST(:rec AS timestamptz[])) AS u(source, event_id, "
                "recorded_at) JOIN events e ON e.source = u.source AND e.event_id = u.event_id"
                ") AS x WHERE t.position = x.position"
            ),
            params,
        )


async def replace_segments(
    conn: AsyncConnection,
    histories: dict[str, list[KnownSegment]],
    tables: Tables = LIVE,
    *,
    delete_first: bool = True,
) -> None:
    """Make the stored segments of these deals exactly `histories`."""
    if not histories:
        return
    connection = await driver(conn)
    if delete_first:
        await connection.execute(
            f"DELETE FROM {tables.segments} WHERE deal_id = ANY($1::text[])", list(histories)
        )
    records = [
        record for deal, history in histories.items() for record in segment_records(deal, history)
    ]
    if records:
        await connection.copy_records_to_table(
            tables.segments, records=records, columns=SEGMENT_COLUMNS
        )
