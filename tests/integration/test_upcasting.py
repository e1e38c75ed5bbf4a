"""A log holding an older shape of `visit.completed` reads exactly like one in the current shape.

The old rows are written as an earlier release stored them (schema version 0, chained); the rest
goes through the appender. Every reader counts each old-shape event like its new-shape twin:
the deal read, the SQL read models after projection and after a rebuild, the in-memory copy,
the audit replay and the export's stand-alone verifier; the chain still verifies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.audit.export import ExportScope, export_lines
from service.audit.replay import replay
from service.events import upcasting
from service.events.envelope import parse_event
from service.events.upcasting import ShapeHistory
from service.projections.deal import deal_state_at
from service.store.chain.hashing import chain_record, link_hash
from service.store.chain.rows import fast_canonical
from service.store.chain.verifier import ChainVerifier
from service.store.database.snapshots import repeatable_read
from service.store.log.appender import EventAppender
from service.store.log.reader import EventReader
from service.store.mirror import reads as mirrored_reads
from service.store.mirror.read_mirror import ReadMirror
from service.store.projection import checkpoints
from service.store.projection.projector import catch_up
from service.store.projection.read_model_writer import LIVE, READ_MODELS
from service.store.projection.rebuild import rebuild
from service.store.queries import scoreboard as scoreboard_query
from service.store.queries.teams import team_history_known_at
from tests.factories import ce, qualified, retraction, signed, sourced, visit
from tools import verify_export

pytestmark = pytest.mark.integration

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Old:
    """An event as an earlier release stored it: its data in the shape of `schema_version`."""

    subject: str
    event_id: str
    type: str
    time: str
    data: dict[str, Any]
    schema_version: int


async def store_as_before(engine: AsyncEngine, olds: list[Old]) -> None:
    """Append `olds` at the head of the log as stored rows, each chained to the one before."""
    async with engine.begin() as conn:
        head = (
            await conn.execute(
                text("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
            )
        ).first()
        position, prev = (head.position, bytes(head.hash)) if head else (0, bytes(32))
        recorded = datetime.now(UTC) - timedelta(minutes=len(olds))
        versions: dict[str, int] = {}
        for old in olds:
            position += 1
            recorded += timedelta(seconds=1)
            versions[old.subject] = versions.get(old.subject, 0) + 1
            occurred = datetime.fromisoformat(old.time)
            metadata = {"actor": "crm-sync", "time": old.time}
            record = chain_record(
                position=position,
                subject=old.subject,
                stream_version=versions[old.subject],
                source="crm",
                event_id=old.event_id,
                event_type=old.type,
                schema_version=old.schema_version,
                occurred_at=occurred,
                recorded_at=recorded,
                data=old.data,
                metadata=metadata,
                prev_hash=prev,
            )
            prev = link_hash(fast_canonical(record))
            await conn.execute(
                text(
                    "INSERT INTO events (position, subject, stream_version, source, event_id, "
                    "type, schema_version, occurred_at, recorded_at, data, metadata, "
                    "fingerprint, hash) VALUES (:p, :s, :v, 'crm', :i, :t, :sv, :o, :r, "
                    "CAST(:d AS jsonb), CAST(:m AS jsonb), :f, :h)"
                ),
                {
                    "p": position,
                    "s": old.subject,
                    "v": versions[old.subject],
                    "i": old.event_id,
                    "t": old.type,
                    "sv": old.schema_version,
                    "o": occurred,
                    "r": recorded,
                    "d": orjson.dumps(old.data).decode(),
                    "m": orjson.dumps(metadata).decode(),
                    "f": hashlib.sha256(old.event_id.encode()).digest(),
                    "h": prev,
                },
            )


def _sourced_data(deal: str, rep: str) -> dict[str, Any]:
    return {"rep_id": rep, "account": {"name": f"Account of {deal}"}, "channel": "web"}


OLD_LOG = [
    Old("D-OLD-1", "o-1", "lead.sourced", "2026-01-05T09:00:00+00:00", {}, 1),
    Old("D-OLD-1", "o-2", "visit.completed", "2026-01-06T09:00:00+00:00", {"type": "first"}, 0),
    Old("D-OLD-1", "o-3", "visit.completed", "2026-01-20T09:00:00+00:00", {"type": "follow_up"}, 0),
    Old("D-OLD-2", "o-4", "lead.sourced", "2026-01-07T09:00:00+00:00", {}, 1),
    Old("D-OLD-2", "o-5", "visit.completed", "2026-01-08T09:00:00+00:00", {"type": "follow_up"}, 0),
]


def old_log() -> list[Old]:
    """Two deals of R-OLD with three visits as an earlier release stored them."""
    return [
        Old(
            o.subject,
            o.event_id,
            o.type,
            o.time,
            _sourced_data(o.subject, "R-OLD")
            if o.type == "lead.sourced"
            else {"rep_id": "R-OLD"} | o.data,
            o.schema_version,
        )
        for o in OLD_LOG
    ]


def twins() -> list[dict[str, Any]]:
    """The same two deals for R-NEW, in the current shapes, through the appender."""
    return [
        sourced("D-NEW-1", "R-NEW", "2026-01-05T09:00:00+00:00"),
        visit("D-NEW-1", "R-NEW", "2026-01-06T09:00:00+00:00", kind="FSI"),
        visit("D-NEW-1", "R-NEW", "2026-01-20T09:00:00+00:00", kind="FUA"),
        sourced("D-NEW-2", "R-NEW", "2026-01-07T09:00:00+00:00"),
        visit("D-NEW-2", "R-NEW", "2026-01-08T09:00:00+00:00", kind="FUA", id="n-5"),
    ]


def later() -> list[dict[str, Any]]:
    """What both reps did since, in the current shapes: one old-shape visit is retracted."""
    events: list[dict[str, Any]] = []
    for rep, retracted in (("R-OLD", "o-5"), ("R-NEW", "n-5")):
        one, two = f"D-{rep[2:]}-1", f"D-{rep[2:]}-2"
        target = {"source": "crm", "id": retracted}
        events += [
            qualified(one, rep, "2026-02-02T09:00:00+00:00"),
            visit(one, rep, "2026-02-03T09:00:00+00:00", kind="FUA"),
            signed(one, rep, "2026-03-02T09:00:00+00:00", amount="1250.50"),
            retraction(two, rep, "2026-02-10T09:00:00+00:00", target),
        ]
    return events


async def append(engine: AsyncEngine, raws: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    await EventAppender(engine).append([parse_event(raw, now=now) for raw in raws])


async def table_rows(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    rows: dict[str, list[tuple[object, ...]]] = {}
    async with engine.connect() as conn:
        for table in LIVE.all():
            result = await conn.execute(text(f"SELECT * FROM {table}"))
            rows[table] = sorted((tuple(row) for row in result), key=repr)
    return rows


def the_twins_agree(board: dict[str, Any]) -> dict[str, Any]:
    """R-OLD's row of a scoreboard equals R-NEW's but for the key; R-OLD's numbers."""
    rows = {row["key"]: {k: v for k, v in row.items() if k != "key"} for row in board["rows"]}
    assert rows["R-OLD"] == rows["R-NEW"]
    return rows["R-OLD"]


async def sql_board(engine: AsyncEngine, known_at: datetime) -> dict[str, Any]:
    async with engine.connect() as conn:
        board = await scoreboard_query.scoreboard(
            conn, start=START, end=END, known_at=known_at, group_by="rep"
        )
    return board.to_json()


async def verify_command(database_url: str) -> dict[str, Any]:
    """`funnel-ledger verify --json` on the database, as a user runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "verify",
        "--json",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out
    report: dict[str, Any] = json.loads(out)
    return report


@pytest.fixture
async def mixed_log(engine: AsyncEngine) -> datetime:
    """The log of both shapes, projected; the transaction time by which all of it is known."""
    await store_as_before(engine, old_log())
    await append(engine, twins())
    await append(engine, later())
    await catch_up(engine, 5)
    return datetime.now(UTC)


async def test_the_stored_rows_keep_their_shape_and_version(
    engine: AsyncEngine, mixed_log: datetime
) -> None:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT event_id, schema_version, data FROM events "
                    "WHERE type = 'visit.completed' ORDER BY position"
                )
            )
        ).all()
    stored = {row.event_id: (row.schema_version, row.data) for row in rows}
    assert stored["o-2"] == (0, {"rep_id": "R-OLD", "type": "first"})
    # The appender writes the current version of every type it appends
    assert {version for key, (version, _) in stored.items() if not key.startswith("o-")} == {1}


async def test_every_reader_counts_an_old_shape_like_its_twin(
    engine: AsyncEngine, mixed_log: datetime, database_url: str, tmp_path: Path
) -> None:
    known_at = mixed_log
    # The deal read folds the upcast stream
    reader = EventReader(engine)
    states = {
        deal: deal_state_at(deal, await reader.stream(deal), as_of=END, known_at=known_at)
        for deal in ("D-OLD-1", "D-NEW-1", "D-OLD-2", "D-NEW-2")
    }
    for old, new in (("D-OLD-1", "D-NEW-1"), ("D-OLD-2", "D-NEW-2")):
        old_state, new_state = states[old], states[new]
        assert old_state is not None and new_state is not None
        assert (old_state.fsi_visits, old_state.fua_visits, old_state.stage) == (
            new_state.fsi_visits,
            new_state.fua_visits,
            new_state.stage,
        )
    assert states["D-OLD-1"] is not None and states["D-OLD-1"].fsi_visits == 1
    # The SQL read models, as the projector wrote them
    projected = await sql_board(engine, known_at)
    numbers = the_twins_agree(projected)
    assert (numbers["fsi_visits"], numbers["fua_visits"], numbers["closed_deals"]) == (1, 2, 1)
    # The in-memory copy answers what SQL answers
    mirror = ReadMirror()
    async with engine.connect() as conn:
        position = (await checkpoints.load(conn, READ_MODELS)).position
        through = await mirrored_reads.scoreboard(
            conn,
            mirror,
            position,
            start=START,
            end=END,
            known_at=known_at,
            group_by="rep",
            history=await team_history_known_at(conn, known_at),
        )
        assert await mirror.columns_at(conn, position) is not None, "the copy served"
    assert through.to_json() == projected
    # The audit replay folds the raw events to the same board, and the read models match it
    async with repeatable_read(engine) as conn:
        report = await replay(
            conn, start=START, end=END, known_at=known_at, read_models_position=position
        )
    assert report.board.to_json() == projected
    assert report.projection_matches
    # The export shows the rows as stored, and the verifier reads them as the service does
    scope = ExportScope(start=START, end=END, known_at=known_at, timezone="UTC")
    async with repeatable_read(engine) as conn:
        path = tmp_path / "export.ndjson"
        path.write_bytes(b"".join([chunk async for chunk in export_lines(conn, scope)]))
    assert b'"type":"first"' in path.read_bytes()
    verified = verify_export.verify(str(path))
    assert verified["ok"], verified["problems"]
    assert verified["rows"] == [
        {"key": row["key"]} | {field: row[field] for field in verify_export.Tally().numbers()}
        for row in projected["rows"]
    ]
    # And the whole chain verifies, old rows included
    chain = await verify_command(database_url)
    assert chain["ok"], chain


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "two-fold-processes"])
async def test_a_rebuild_writes_what_the_projector_wrote(
    engine: AsyncEngine, mixed_log: datetime, workers: int
) -> None:
    projected_rows = await table_rows(engine)
    projected = await sql_board(engine, mixed_log)
    report = await rebuild(engine, workers=workers)
    assert report.position == len(OLD_LOG) + len(twins()) + len(later())
    assert await table_rows(engine) == projected_rows
    assert await sql_board(engine, mixed_log) == projected
    the_twins_agree(projected)


async def test_a_new_shape_is_one_registry_entry(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a release in which `deal.qualified` said `amount_cents` (v1) before the contract's
    # decimal string (v2): one entry in the registry
    def qualified_v1_v2(data: upcasting.Data) -> dict[str, Any]:
        rest = {k: v for k, v in data.items() if k != "amount_cents"}
        cents = int(data["amount_cents"])
        return {**rest, "amount": f"{cents // 100}.{cents % 100:02d}"}

    history = ShapeHistory(oldest=1, steps=(qualified_v1_v2,))
    monkeypatch.setitem(upcasting.HISTORIES, "deal.qualified", history)
    # And a log whose qualifications before the change are stored at v1, a later one at v2
    deal = {"rep_id": "R-1", "currency": "TWD"}
    await store_as_before(
        engine,
        [
            Old(
                "D-1",
                "q-0",
                "lead.sourced",
                "2026-01-05T09:00:00+00:00",
                _sourced_data("D-1", "R-1"),
                1,
            ),
            Old(
                "D-1",
                "q-1",
                "deal.qualified",
                "2026-01-06T09:00:00+00:00",
                deal | {"amount_cents": 120050},
                1,
            ),
            Old(
                "D-1",
                "q-2",
                "deal.qualified",
                "2026-01-07T09:00:00+00:00",
                deal | {"amount_cents": 99},
                1,
            ),
        ],
    )
    await append(
        engine,
        [
            qualified("D-1", "R-1", "2026-01-08T09:00:00+00:00", amount="130000.00"),
            ce("rep.team_assigned", "rep:R-1", "2026-01-01T00:00:00Z", {"team_id": "North"}),
        ],
    )
    await catch_up(engine, 2)
    # Then the appender wrote the new version, the chain holds, the deal reads in one shape
    async with engine.connect() as conn:
        versions = (
            await conn.execute(
                text("SELECT schema_version FROM events WHERE type = 'deal.qualified' ORDER BY 1")
            )
        ).scalars()
        assert list(versions) == [1, 1, 2]
    async with repeatable_read(engine) as conn:
        assert (await ChainVerifier(conn).verify()).ok
    stream = await EventReader(engine).stream("D-1")
    assert [e.data.get("amount") for e in stream if e.type == "deal.qualified"] == [
        "1200.50",
        "0.99",
        "130000.00",
    ]
    assert {e.schema_version for e in stream if e.type == "deal.qualified"} == {2}
    # And a rebuild (qualifications repeat for the deal: their flags too) writes what the
    # projector wrote
    projected = await table_rows(engine)
    async with engine.connect() as conn:
        flagged = await conn.scalar(text("SELECT bool_or(repeats_for_deal) FROM rm_flow_facts"))
    assert flagged, "repeats are flagged"
    await rebuild(engine, workers=1)
    assert await table_rows(engine) == projected
