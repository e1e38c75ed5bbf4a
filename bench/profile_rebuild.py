"""Rebuild and catch-up figures: `python bench/profile_rebuild.py [--deals N] [--profile]`.

Loads a generated history (`bench/datagen.py`) through the real appender into an embedded
PostgreSQL (kept under `--data-dir` between runs, so a second run skips the load), then times
the projector's catch-up from empty read models and a full rebuild, and checks that both wrote
the same rows. With `--profile`, pyinstrument profiles of both are written next to the data.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.datagen import Shape, history
from bench.infra import append_history
from service.embedded import EmbeddedPostgres
from service.store.database.engines import create_engine
from service.store.database.migrate import upgrade_to_head
from service.store.projection.projector import project_once
from service.store.projection.read_model_writer import LIVE, READ_MODELS
from service.store.projection.rebuild import rebuild


def say(label: str, value: Any) -> None:
    """Print one figure as it is measured."""
    print(f"{label:<44} {value}", flush=True)


async def load(engine: AsyncEngine, deals: int) -> int:
    """Append the generated history unless the log already holds it; return the log's size."""
    async with engine.connect() as conn:
        stored = int((await conn.execute(text("SELECT count(*) FROM events"))).scalar_one())
    if stored:
        return stored
    events = history(Shape(deals=deals))
    say("appended (1000 per transaction), s", round(await append_history(engine, events), 1))
    return len(events)


async def empty_read_models(engine: AsyncEngine) -> None:
    """Truncate the live read models and move their checkpoint back to 0."""
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(LIVE.all())}"))
        await conn.execute(
            text("UPDATE projection_checkpoints SET position = 0 WHERE name = :n"),
            {"n": READ_MODELS},
        )


async def snapshot(engine: AsyncEngine) -> dict[str, int]:
    """A cheap fingerprint of every read-model table: row count and an order-free hash sum."""
    figures: dict[str, int] = {}
    async with engine.connect() as conn:
        for table in LIVE.all():
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*), COALESCE(sum(('x' || left(md5(t::text), 15))::bit(60)"
                        f"::bigint), 0) FROM {table} t"
                    )
                )
            ).one()
            figures[f"{table} rows"] = int(row[0])
            figures[f"{table} hash"] = int(row[1])
    return figures


def profiler(enabled: bool, name: str, where: Path) -> AbstractContextManager[Any]:
    """A pyinstrument profile written to `where/name.txt` and `.html`, or nothing."""
    if not enabled:
        return nullcontext()
    from pyinstrument import Profiler

    class _Profile:
        def __enter__(self) -> None:
            self.profiler = Profiler(async_mode="enabled")
            self.profiler.start()

        def __exit__(self, *_exc: object) -> None:
            self.profiler.stop()
            (where / f"{name}.txt").write_text(self.profiler.output_text(show_all=False))
            (where / f"{name}.html").write_text(self.profiler.output_html())
            say(f"profile of {name}", where / f"{name}.txt")

    return _Profile()


async def timed(call: Callable[[], Awaitable[int]]) -> tuple[int, float, float]:
    """The call's result, its wall time and the process's CPU time, in seconds."""
    began, cpu = time.perf_counter(), time.process_time()
    result = await call()
    return result, time.perf_counter() - began, time.process_time() - cpu


async def main(
    deals: int, data_dir: Path, profile: bool, catch_up_batch: int, skip_catch_up: bool
) -> None:
    """Load (once), then time and compare catch-up and rebuild.

    With `skip_catch_up`, the rebuild is compared with the read models already in place.
    """
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    engine = create_engine(url, pool_size=4)
    try:
        await upgrade_to_head(engine)
        events = await load(engine, deals)
        say("events in the log", events)
        if not skip_catch_up:
            await empty_read_models(engine)

            async def catch_up() -> int:
                total = 0
                while count := await project_once(engine, catch_up_batch):
                    total += count
                return total

            with profiler(profile, "catch_up", data_dir):
                projected, wall, cpu = await timed(catch_up)
            say(f"catch-up (batch {catch_up_batch}), s (cpu s)", f"{wall:.1f} ({cpu:.1f})")
            say("  catch-up events/s", round(projected / wall))
        caught = await snapshot(engine)

        async def full() -> int:
            return (await rebuild(engine)).events

        with profiler(profile, "rebuild", data_dir):
            rebuilt, wall, cpu = await timed(full)
        say("rebuild, s (cpu s)", f"{wall:.1f} ({cpu:.1f})")
        say("  rebuild events/s", round(rebuilt / wall))
        same = caught == await snapshot(engine)
        say("rebuild wrote what catch-up wrote", same)
        if not same:
            raise SystemExit(1)
    finally:
        await engine.dispose()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--catch-up-batch", type=int, default=2000)
    parser.add_argument("--skip-catch-up", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("service.store.projection.rebuild").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="funnel-rebuild-") as tmp:
        where = args.data_dir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        asyncio.run(main(args.deals, where, args.profile, args.catch_up_batch, args.skip_catch_up))
