"""The SQL read path against the in-memory copy, cold, in alternation, on one database.

`python bench/read_paths.py [--database URL] [--deals N] [--count N]` loads the bench history
(`bench/datagen.py`, 100 000 deals, about 1 M events) unless the database holds events already,
then times, in-process and on one snapshot per call, the reads the goals name — the 2026-Q1
scoreboard by rep and by team and the funnel at a past `as_of`, each at a past `known_at` that
is new for every call (nothing is cached) — through SQL and through the in-memory copy, taking
turns call by call (SQL first in even rounds, the copy first in odd ones), so that a change of
the shared machine's speed weighs on both alike. Both paths' answers are compared once per read:
they must be equal, money to the last digit. A calibration loop is timed at the start and the
end (`bench/infra.calibrate`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.infra import calibrate, embedded_server, percentile
from bench.profile_reads import FUNNEL_AS_OF, Q1, known_past, load, say
from service.projections.scoreboard import GroupBy
from service.store.database.engines import create_engine
from service.store.database.snapshots import repeatable_read
from service.store.mirror import reads as mirrored_reads
from service.store.mirror.columns import Columns
from service.store.mirror.read_mirror import ReadMirror
from service.store.projection import checkpoints
from service.store.projection.read_model_writer import READ_MODELS
from service.store.queries.teams import team_history_known_at

Read = Callable[[ReadMirror | None, datetime], Awaitable[Any]]


def _board(engine: AsyncEngine, group_by: GroupBy) -> Read:
    async def read(mirror: ReadMirror | None, known: datetime) -> Any:
        async with repeatable_read(engine) as conn:
            await conn.execute(text("SET LOCAL work_mem = '64MB'"))
            position = (await checkpoints.load(conn, READ_MODELS)).position
            teams = await team_history_known_at(conn, known)
            board = await mirrored_reads.scoreboard(
                conn,
                mirror,
                position,
                start=Q1[0],
                end=Q1[1],
                known_at=known,
                group_by=group_by,
                history=teams,
            )
            return board.to_json()

    return read


def _funnel(engine: AsyncEngine) -> Read:
    async def read(mirror: ReadMirror | None, known: datetime) -> Any:
        async with repeatable_read(engine) as conn:
            position = (await checkpoints.load(conn, READ_MODELS)).position
            return await mirrored_reads.funnel(
                conn, mirror, position, as_of=FUNNEL_AS_OF, known_at=known, rep_id=None
            )

    return read


def _array_bytes(columns: Columns | None) -> int:
    """Bytes of the copy's numpy columns (an object column counts its pointers only)."""
    if columns is None:
        return 0
    parts = (columns.facts, columns.segments)
    return sum(
        getattr(part, name).nbytes
        for part in parts
        for name in part.__slots__
        if isinstance(getattr(part, name), np.ndarray)
    )


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
    }


async def compare(engine: AsyncEngine, past: datetime, count: int) -> dict[str, Any]:
    """p50/p95 of each read through SQL and through the copy, alternating call by call."""
    mirror = ReadMirror()
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    began = time.perf_counter()
    async with repeatable_read(engine) as conn:
        position = (await checkpoints.load(conn, READ_MODELS)).position
        columns = await mirror.columns_at(conn, position)
    figures: dict[str, Any] = {"copy_full_load_s": round(time.perf_counter() - began, 2)}
    gc.collect()
    grown = psutil.Process().memory_info().rss - rss_before
    figures["copy_rss_growth_mb"] = round(grown / 2**20, 1)
    figures["copy_array_mb"] = round(_array_bytes(columns) / 2**20, 1)
    say("copy: full load, s", figures["copy_full_load_s"])
    say("copy: resident memory grown by, MB", figures["copy_rss_growth_mb"])
    say("copy: numpy arrays (object arrays as pointers), MB", figures["copy_array_mb"])
    reads: dict[str, Read] = {
        "scoreboard_q1_by_rep_cold": _board(engine, "rep"),
        "scoreboard_q1_by_team_cold": _board(engine, "team"),
        "funnel_past_as_of_cold": _funnel(engine),
    }
    step = iter(range(10**7))
    for name, read in reads.items():
        # The two answers at one past known_at: equal, or the comparison means nothing.
        sql_answer, copy_answer = await read(None, past), await read(mirror, past)
        if sql_answer != copy_answer:
            raise AssertionError(f"{name}: SQL and the in-memory copy differ")
        samples: dict[str, list[float]] = {"sql": [], "copy": []}
        for round_number in range(count):
            order = ("sql", "copy") if round_number % 2 == 0 else ("copy", "sql")
            for path in order:
                known = past - timedelta(milliseconds=next(step))
                started = time.perf_counter()
                await read(None if path == "sql" else mirror, known)
                samples[path].append((time.perf_counter() - started) * 1000)
        for path, values in samples.items():
            figures[f"{path}_{name}"] = _summary(values)
            say(f"{path:<4} {name}", figures[f"{path}_{name}"])
    return figures


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Load if needed, then compare the two paths."""
    figures: dict[str, Any] = {"calibration_s": [calibrate()]}
    engine = create_engine(args.database, pool_size=4)
    try:
        await load(engine, args.deals)
        async with engine.connect() as conn:
            figures["events"] = (await conn.execute(text("SELECT count(*) FROM events"))).scalar()
        past = await known_past(engine)
        figures |= await compare(engine, past, args.count)
    finally:
        await engine.dispose()
    figures["calibration_s"].append(calibrate())
    say("calibration at start and end, s", figures["calibration_s"])
    return figures


def parser() -> argparse.ArgumentParser:
    """The command line."""
    commands = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands.add_argument("--database", help="a PostgreSQL URL (default: a fresh embedded one)")
    commands.add_argument("--deals", type=int, default=100_000)
    commands.add_argument("--count", type=int, default=30, help="calls per read and path")
    return commands


def run_fresh(deals: int, count: int) -> dict[str, Any]:
    """On a fresh embedded PostgreSQL (as `bench/run.py` calls it)."""
    with embedded_server() as url:
        return asyncio.run(main(argparse.Namespace(database=url, deals=deals, count=count)))


if __name__ == "__main__":
    arguments = parser().parse_args()
    if arguments.database is None:
        run_fresh(arguments.deals, arguments.count)
    else:
        asyncio.run(main(arguments))


async def in_suite(url: str, deals: int, quick: bool) -> dict[str, Any]:
    """What `bench/run.py` calls on its loaded database: this comparison, then the windows of
    `bench/warm.py` (smaller with `quick`)."""
    from bench import warm

    count = 10 if quick else 30
    figures = await main(argparse.Namespace(database=url, deals=deals, count=count))
    options = {
        "count": count,
        "bulk": 20_000 if quick else 200_000,
        "seconds": 3 if quick else 10,
        "rate": 5.0,
    }
    windows = argparse.Namespace(database=url, deals=deals, only=None, **options)
    figures["windows"] = await warm.main(windows)
    return figures
