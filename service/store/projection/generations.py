"""The two generations of the read models, both created by the migrations, and their swap.

Each read-model table (`rm_flow_facts`, …) is a partitioned table holding one partition, the
live generation (`rm_flow_facts_a` or `_b`); its twin parent `rm_flow_facts_next` holds the
other, the spare. Columns, keys and indexes are declared on both parents by the migrations, and
a partition takes its indexes from the parent it is attached to, so the shape of every table
comes from the migrations alone: nothing here names a column or an index.

A rebuild `strip`s the spare (detached, its keys and indexes dropped, emptied), loads it bare,
`attach_spare`s it to its `_next` parent (which builds the declared indexes there, away from the
readers) and `swap`s: in one transaction the live partition moves to `_next` and is emptied,
the spare to the live parent. Both attachments are catalogue changes only: the indexes match
those of the parent already, and NOT NULL on the partition key implies the one bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.store.projection.read_model_writer import LIVE, Tables

NEXT = Tables(*(f"{name}_next" for name in LIVE.all()))
"""The parents of the spare generation: the rebuild's catch-up and late writes go through them."""
SUFFIXES = ("_a", "_b")
BOUND = "FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"
"""A parent's one partition takes every row."""
MAINTENANCE_WORK_MEM = "256MB"
"""Memory for each index build: the largest rebuilt index then sorts in memory."""
_PARTITION = text(
    "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = CAST(:parent AS regclass)"
)
_LEAVES = text(
    "SELECT (SELECT pg_relation_filenode(relid) FROM pg_partition_tree(CAST(:facts AS regclass)) "
    "WHERE isleaf), (SELECT pg_relation_filenode(relid) "
    "FROM pg_partition_tree(CAST(:segments AS regclass)) WHERE isleaf)"
)


async def _attached(conn: AsyncConnection, parent: str) -> str | None:
    """The partition attached to `parent`, if any."""
    return (await conn.execute(_PARTITION, {"parent": parent})).scalar_one_or_none()


async def live_partitions(conn: AsyncConnection) -> Tables:
    """The partitions that hold the live generation."""
    names = []
    for parent in LIVE.all():
        partition = await _attached(conn, parent)
        if partition is None:
            raise RuntimeError(f"{parent} has no partition: the read models are not migrated")
        names.append(partition)
    return Tables(*names)


async def spare_partitions(conn: AsyncConnection) -> Tables:
    """The partitions that do not hold the live generation."""
    live = await live_partitions(conn)
    return Tables(
        *(
            next(f"{parent}{s}" for s in SUFFIXES if f"{parent}{s}" != partition)
            for parent, partition in zip(LIVE.all(), live.all(), strict=True)
        )
    )


async def live_storage(conn: AsyncConnection) -> tuple[int, int]:
    """The file nodes of the live facts and segments partitions, new after every rebuild.

    Not their OIDs: the two generations take turns, so a partition's OID comes back, but each
    rebuild empties the spare with TRUNCATE, which gives it new storage. Resolved from the
    catalogue now, as the statements that read the parents resolve their partitions.
    """
    row = (await conn.execute(_LEAVES, {"facts": LIVE.facts, "segments": LIVE.segments})).one()
    return int(row[0]), int(row[1])


async def storage_of(conn: AsyncConnection, partitions: Tables) -> tuple[int, int]:
    """The file nodes of the facts and segments `partitions` (a spare's, before its swap).

    Attaching and detaching keep a partition's storage: once swapped in, the spare's are what
    `live_storage` reports.
    """
    row = (
        await conn.execute(
            text(
                "SELECT pg_relation_filenode(CAST(:f AS regclass)), "
                "pg_relation_filenode(CAST(:s AS regclass))"
            ),
            {"f": partitions.facts, "s": partitions.segments},
        )
    ).one()
    return int(row[0]), int(row[1])


async def strip(conn: AsyncConnection) -> Tables:
    """Make the spare partitions bare and empty, ready for a bulk load; returns them.

    They are detached from their `_next` parents first if they are there (after a rebuild, or
    one that failed part-way), then lose their keys and indexes (`read_model_strip`, a function
    of the migrations).
    """
    spare = await spare_partitions(conn)
    for parent, partition in zip(NEXT.all(), spare.all(), strict=True):
        if await _attached(conn, parent) == partition:
            await conn.execute(text(f"ALTER TABLE {parent} DETACH PARTITION {partition}"))
        await conn.execute(text("SELECT read_model_strip(CAST(:t AS regclass))"), {"t": partition})
        await conn.execute(text(f"TRUNCATE {partition}"))
    return spare


async def attach_spare(engine: AsyncEngine, spare: Tables) -> None:
    """Attach each loaded spare to its `_next` parent, which builds its indexes, then vacuum it.

    Tables side by side, each on its own connection. VACUUM (not only ANALYZE) sets the
    visibility map that the read queries' index-only scans over the covering indexes rely on.
    """

    async def one(parent: str, partition: str) -> None:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
            try:
                await conn.execute(
                    text(f"ALTER TABLE {parent} ATTACH PARTITION {partition} {BOUND}")
                )
                await conn.execute(text(f"VACUUM ANALYZE {partition}"))
            finally:
                await conn.execute(text("RESET maintenance_work_mem"))

    await _side_by_side(one(parent, p) for parent, p in zip(NEXT.all(), spare.all(), strict=True))


async def swap(conn: AsyncConnection, spare: Tables) -> None:
    """In the caller's transaction: the spare generation becomes live, the live one the (empty)
    spare. Readers wait for the commit and then see the new generation, never a mix."""
    live = await live_partitions(conn)
    for parent, staging, old, new in zip(
        LIVE.all(), NEXT.all(), live.all(), spare.all(), strict=True
    ):
        await conn.execute(text(f"ALTER TABLE {parent} DETACH PARTITION {old}"))
        await conn.execute(text(f"ALTER TABLE {staging} DETACH PARTITION {new}"))
        await conn.execute(text(f"ALTER TABLE {parent} ATTACH PARTITION {new} {BOUND}"))
        await conn.execute(text(f"ALTER TABLE {staging} ATTACH PARTITION {old} {BOUND}"))
        await conn.execute(text(f"TRUNCATE {old}"))


async def analyze_live(engine: AsyncEngine) -> None:
    """Statistics for the live parents: the planner's join estimates over a parent read the
    parent's own (autovacuum keeps only the partitions')."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"ANALYZE {', '.join(LIVE.all())}"))


async def _side_by_side(works: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run `works` at once; if one fails, the others are cancelled and their connections
    returned."""
    async with asyncio.TaskGroup() as group:
        for work in works:
            group.create_task(work)
