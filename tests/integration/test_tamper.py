"""Tampering with the stored log, as a superuser with the immutability trigger off, is detected.

Each test changes the events table behind the service's back (a changed, deleted, inserted or
swapped row), then walks the chain and expects the first break at the right position.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import orjson
import pytest
import rfc8785
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.envelope import parse_event
from service.store.chain.hashing import canonical_json, chain_record, link_hash
from service.store.chain.rows import fast_canonical, to_chain_row
from service.store.chain.verifier import Anchor, ChainReport, ChainVerifier
from service.store.database.snapshots import repeatable_read
from service.store.log.appender import EventAppender
from tests.factories import ce, qualified, signed, sourced, visit
from tools import verify_export

pytestmark = pytest.mark.integration

EVENTS = 14
TARGET = 7
_COLUMNS = (
    "position, subject, stream_version, source, event_id, type, schema_version, occurred_at, "
    "recorded_at, data::text AS data, metadata::text AS metadata, hash"
)


async def seed(engine: AsyncEngine) -> None:
    """Fourteen events of varied types and content, in three transactions."""
    appender = EventAppender(engine)
    batches = [
        [
            sourced("D-1", "R-1", "2026-01-05T09:00:00+08:00"),
            visit("D-1", "R-1", "2026-01-06T10:00:00Z"),
            qualified("D-1", "R-1", "2026-01-07T10:00:00.123456Z", amount="1234.50"),
            sourced("D-2", "R-2", "2026-01-08T10:00:00Z", traceid="abc123"),
            ce(
                "call.logged",
                "D-2",
                "2026-01-09T10:00:00Z",
                {"rep_id": "R-2", "direction": "inbound", "duration_s": 95, "outcome": "回電 ✓"},
            ),
        ],
        [
            visit("D-2", "R-2", "2026-01-10T10:00:00Z", kind="FUA"),
            signed("D-1", "R-1", "2026-02-01T10:00:00Z", amount="2000"),
            ce("rep.team_assigned", "rep:R-1", "2026-01-01T00:00:00Z", {"team_id": "North"}),
            qualified("D-2", "R-2", "2026-02-02T10:00:00Z"),
        ],
        [visit(f"D-{i}", "R-3", f"2026-02-1{i}T10:00:00Z") for i in range(3, 8)],
    ]
    for batch in batches:
        await appender.append([parse_event(raw) for raw in batch], {"actor": "test", "key_id": "k"})


async def verify(engine: AsyncEngine, anchor: Anchor | None = None) -> ChainReport:
    """Walk the chain in small chunks, so that breaks fall near chunk boundaries too."""
    async with repeatable_read(engine) as conn:
        return await ChainVerifier(conn, chunk=4, radius=6).verify(anchor)


@asynccontextmanager
async def tampering(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction with the events table's user triggers off; they are back on at its end."""
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        yield conn
        await conn.execute(text("ALTER TABLE events ENABLE TRIGGER USER"))


async def stored_hash(engine: AsyncEngine, position: int) -> bytes:
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT hash FROM events WHERE position = :p"), {"p": position}
        )
    return bytes(value)


async def shift_up(conn: AsyncConnection, start: int) -> None:
    """Renumber the rows from `start` on one position up (two steps: the key is unique)."""
    await conn.execute(
        text("UPDATE events SET position = position + 1000000 WHERE position >= :p"), {"p": start}
    )
    await conn.execute(
        text("UPDATE events SET position = position - 999999 WHERE position >= 1000000")
    )


async def insert_forgery(conn: AsyncConnection, position: int, prev: bytes | None) -> None:
    """Insert a made-up visit at `position`, correctly chained after `prev` when given."""
    occurred = datetime(2026, 2, 20, tzinfo=UTC)
    recorded = (
        await conn.execute(
            text("SELECT recorded_at FROM events WHERE position = :p"), {"p": position - 1}
        )
    ).scalar_one()
    data = {"rep_id": "R-9", "kind": "FSI"}
    metadata = {"actor": "test", "key_id": "k", "time": "2026-02-20T00:00:00Z"}
    chained = link_hash(
        canonical_json(
            chain_record(
                position=position,
                subject="D-forged",
                stream_version=1,
                source="crm",
                event_id="forged-1",
                event_type="visit.completed",
                schema_version=1,
                occurred_at=occurred,
                recorded_at=recorded,
                data=data,
                metadata=metadata,
                prev_hash=prev or bytes(32),
            )
        )
    )
    await conn.execute(
        text(
            "INSERT INTO events (position, subject, stream_version, source, event_id, type, "
            "occurred_at, recorded_at, data, metadata, fingerprint, hash) VALUES (:p, 'D-forged', "
            "1, 'crm', 'forged-1', 'visit.completed', :o, :r, CAST(:d AS jsonb), "
            "CAST(:m AS jsonb), :f, :h)"
        ),
        {
            "p": position,
            "o": occurred,
            "r": recorded,
            "d": orjson.dumps(data).decode(),
            "m": orjson.dumps(metadata).decode(),
            "f": b"forged",
            "h": chained if prev is not None else bytes(range(32)),
        },
    )


async def swap(conn: AsyncConnection, first: int, second: int) -> None:
    """Exchange the positions of two rows."""
    for old, new in ((first, 1000000), (second, first), (1000000, second)):
        await conn.execute(
            text("UPDATE events SET position = :new WHERE position = :old"),
            {"old": old, "new": new},
        )


@pytest.fixture
async def seeded(engine: AsyncEngine) -> AsyncEngine:
    await seed(engine)
    return engine


async def test_an_untouched_chain_verifies_to_its_head(seeded: AsyncEngine) -> None:
    report = await verify(seeded)
    assert report.ok
    assert report.head_position == report.verified_through == EVENTS
    assert report.last_hash == await stored_hash(seeded, EVENTS)


async def test_a_changed_row_is_a_hash_mismatch_at_its_position(seeded: AsyncEngine) -> None:
    # Given a signed contract whose amount is raised behind the service's back
    async with tampering(seeded) as conn:
        await conn.execute(
            text(
                "UPDATE events SET data = jsonb_set(data, '{amount}', '\"9000\"') "
                "WHERE position = :p"
            ),
            {"p": TARGET},
        )
    # When the chain is verified, Then the break is that row
    report = await verify(seeded)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.reason) == (TARGET, "hash_mismatch")
    assert report.verified_through == TARGET - 1


async def test_changed_metadata_is_detected_too(seeded: AsyncEngine) -> None:
    async with tampering(seeded) as conn:
        await conn.execute(
            text('UPDATE events SET metadata = metadata || \'{"actor": "x"}\' WHERE position = 3')
        )
    report = await verify(seeded)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.reason) == (3, "hash_mismatch")


async def test_a_deleted_row_is_a_position_gap(seeded: AsyncEngine) -> None:
    async with tampering(seeded) as conn:
        await conn.execute(text("DELETE FROM events WHERE position = :p"), {"p": TARGET})
    report = await verify(seeded)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.reason) == (TARGET, "position_gap")


async def test_a_deleted_first_row_is_a_gap_at_one(seeded: AsyncEngine) -> None:
    async with tampering(seeded) as conn:
        await conn.execute(text("DELETE FROM events WHERE position = 1"))
    report = await verify(seeded)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.reason) == (1, "position_gap")


async def test_a_deleted_last_row_is_caught_by_an_anchor(seeded: AsyncEngine) -> None:
    # Given an auditor who kept the head's hash from an earlier check
    anchor = Anchor(EVENTS, (await verify(seeded)).last_hash or b"")
    async with tampering(seeded) as conn:
        await conn.execute(text("DELETE FROM events WHERE position = :p"), {"p": EVENTS})
    # Then the shortened chain is consistent in itself, but not with the anchor
    assert (await verify(seeded)).ok
    report = await verify(seeded, anchor)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.reason) == (EVENTS, "truncated")


async def test_a_rewritten_history_is_caught_by_an_anchor(seeded: AsyncEngine) -> None:
    anchor = Anchor(TARGET, b"\x01" * 32)
    report = await verify(seeded, anchor)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.reason) == (TARGET, "anchor_mismatch")


@pytest.mark.parametrize("chained", [True, False], ids=["forged-hash", "bogus-hash"])
async def test_an_inserted_row_is_found_where_it_was_inserted(
    seeded: AsyncEngine, chained: bool
) -> None:
    # Given a made-up row slipped in at TARGET, the later rows renumbered to make room,
    # its hash either forged to chain correctly after TARGET - 1 or simply made up
    prev = await stored_hash(seeded, TARGET - 1)
    async with tampering(seeded) as conn:
        await shift_up(conn, TARGET)
        await insert_forgery(conn, TARGET, prev if chained else None)
    # Then the chain breaks at the inserted row
    report = await verify(seeded)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.reason) == (TARGET, "inserted_row")


@pytest.mark.parametrize("other", [TARGET + 1, TARGET + 4])
async def test_two_swapped_rows_are_named(seeded: AsyncEngine, other: int) -> None:
    async with tampering(seeded) as conn:
        await swap(conn, TARGET, other)
    report = await verify(seeded)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.reason) == (TARGET, "swapped_rows")
    assert str(other) in report.first_break.detail


async def test_a_row_rewritten_with_a_recomputed_hash_breaks_the_next_link(
    seeded: AsyncEngine,
) -> None:
    # Given a row changed and re-hashed (only the link to the row after it can show it)
    async with seeded.connect() as conn:
        row = to_chain_row(
            (
                await conn.execute(
                    text(f"SELECT {_COLUMNS} FROM events WHERE position = :p"), {"p": TARGET}
                )
            )
            .one()
            ._asdict()
        )
    prev = await stored_hash(seeded, TARGET - 1)
    record = row.record(TARGET, prev)
    record["data"] = {**record["data"], "amount": "9000"}
    async with tampering(seeded) as conn:
        await conn.execute(
            text("UPDATE events SET data = CAST(:d AS jsonb), hash = :h WHERE position = :p"),
            {
                "d": orjson.dumps(record["data"]).decode(),
                "h": link_hash(rfc8785.dumps(record)),
                "p": TARGET,
            },
        )
    report = await verify(seeded)
    assert report.first_break is not None
    assert report.first_break.position == TARGET + 1
    assert report.first_break.reason == "hash_mismatch"


async def test_the_trigger_is_back_after_tampering(seeded: AsyncEngine) -> None:
    async with tampering(seeded) as conn:
        await conn.execute(text("DELETE FROM events WHERE position = :p"), {"p": EVENTS})
    with pytest.raises(DBAPIError, match="append-only"):
        async with seeded.begin() as conn:
            await conn.execute(text("DELETE FROM events"))


async def test_the_fast_canonical_forms_are_rfc_8785_on_real_records(seeded: AsyncEngine) -> None:
    # The verifier's orjson form and the stand-alone tool's stdlib form must both equal RFC 8785
    # for everything the service stores (unicode, extensions, integers, nested objects).
    async with seeded.connect() as conn:
        result = await conn.execute(text(f"SELECT {_COLUMNS} FROM events"))
        rows = [to_chain_row(r._asdict()) for r in result]
    assert len(rows) == EVENTS
    for row in rows:
        record = row.record(row.position, bytes(32))
        assert fast_canonical(record) == rfc8785.dumps(record)
        assert verify_export.canonical(record) == rfc8785.dumps(record)
        assert row.fits(row.position, bytes(32)) == (row.position == 1)
