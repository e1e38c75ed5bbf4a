"""What swapping reloaded deals into the in-memory copy costs, at the size of a larger log.

`python bench/swap.py --database URL [--times K] [--swaps N] [--back E]` on a database whose
read models are projected (the bench history, `bench/profile_reads.py` or `bench/warm.py` load
it). It loads the copy as the service does, makes it `--times` times as large (the same rows
repeated, then sorted: a stand-in for a log that many times longer), then times `--swaps`
swaps in a row, each bringing in the rows of the deals touched by the last `--back` events (as
a request or the follower does after new events), and prints the milliseconds of each and their
median. The swaps run one after the other on the copy each one leaves, as in the service.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bench.infra import calibrate
from bench.profile_reads import say
from service.store.database.engines import create_engine
from service.store.mirror.columns import Columns, load_facts, load_segments
from service.store.mirror.read_mirror import _TOUCHED, _loaded
from service.store.projection.read_model_writer import LIVE

_HEAD = text("SELECT max(position) FROM events")


async def measure(url: str, times: int, swaps: int, back: int) -> list[float]:
    """The milliseconds of each swap (see the module's description)."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            columns = await _loaded(conn, LIVE)
            head = int((await conn.execute(_HEAD)).scalar_one())
            window = {"old": head - back, "new": head}
            touched = [row[0] for row in await conn.execute(_TOUCHED, window)]
            facts, _, _ = await load_facts(conn, LIVE.facts, columns, touched)
            segments = await load_segments(
                conn, LIVE.segments, columns.deals, columns.reps, touched
            )
    finally:
        await engine.dispose()
    if times > 1:
        columns = Columns(
            columns.facts.plus_all([columns.facts] * (times - 1)),
            columns.segments.plus_all([columns.segments] * (times - 1)),
            columns.deals,
            columns.reps,
        ).in_order()
    say(
        "facts / segments in the copy",
        f"{len(columns.facts.occurred)} / {len(columns.segments.deal)}",
    )
    say(f"deals touched by the last {back} events", len(touched))
    took = []
    for _ in range(swaps):
        began = time.perf_counter()
        columns = columns.replace_deals(touched, facts, segments)
        took.append((time.perf_counter() - began) * 1000)
    return took


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", required=True, help="a PostgreSQL URL")
    parser.add_argument("--times", type=int, default=1, help="the copy made this many times larger")
    parser.add_argument("--swaps", type=int, default=20)
    parser.add_argument("--back", type=int, default=50, help="events whose deals each swap brings")
    args = parser.parse_args()
    say("calibration (fixed CPU work), s", calibrate())
    took = asyncio.run(measure(args.database, args.times, args.swaps, args.back))
    say("each swap, ms", [round(ms, 1) for ms in took])
    say("median swap, ms", round(statistics.median(took), 1))


if __name__ == "__main__":
    main()
