"""How the ledger scales with its log: `python bench/scale.py [--quick] [--data-dir DIR]`.

A 500-rep company keeps ten years of history: about a million events a year
(`bench/datagen.company_years`). The log grows year by year in one embedded PostgreSQL 18; at
each size (by default 1, 3 and 10 years: about 1, 3 and 10 M events) it measures the load,
the projector's catch-up, a full rebuild, disk per million events, the service's start-up,
warm-up and memory, cold reads and one quarter's audit replay (`bench/scale_reads.py`), and
draws the curves as an SVG (`bench/scale_chart.py`). `--quick` does the same on a small
company in under a minute. With `--data-dir` the database is kept there and a later run goes
on from the years it already holds (sizes it already passed are skipped: a log never
shrinks). Results: `bench/results/scale[-quick].json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import httpx

from bench import scale_chart
from bench.datagen import Company, Delivered, company_years
from bench.infra import asyncpg_dsn, calibrate
from bench.run import prepare
from bench.scale_load import append_year
from bench.scale_reads import service_figures
from service.embedded import EmbeddedPostgres
from service.store.chain.verifier import ChainVerifier
from service.store.database.engines import create_engine
from service.store.projection.projector import project_once
from service.store.projection.read_model_writer import LIVE
from service.store.projection.rebuild import rebuild

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CHART = ROOT / "docs" / "performance-scale.svg"
STATE = "scale-state.json"


def say(label: str, value: Any) -> None:
    """Print one figure as it is measured."""
    print(f"{label:<48} {value}", flush=True)


def quarter_of(company: Company, years: int) -> tuple[str, datetime, list[str]]:
    """The last full calendar quarter of a log of `years` years (Q1 of its last year), its end,
    and some deals opened in that year."""
    year = company.year_start(years - 1).year + 1
    first = (years - 1) * company.deals_per_year
    deals = [f"D-{deal:07d}" for deal in range(first + 42, first + company.deals_per_year, 97)]
    return f"{year}-Q1", datetime(year, 4, 1, tzinfo=UTC), deals[:200]


def year_end(company: Company, years: int) -> datetime:
    """The end of a log of `years` years."""
    return company.year_start(years)


class Years:
    """The company's history, generated one year at a time as the log grows."""

    def __init__(self, company: Company, years: int) -> None:
        self._years = enumerate(company_years(company, years))
        self.generated = 0

    def until(self, have: int, want: int) -> Iterator[tuple[int, list[Delivered]]]:
        """The years from `have` (0-based) up to `want`, generating (and skipping) those before
        `have` that this run has not generated yet: later years carry on their deals."""
        if have >= want:
            return  # a kept log that already holds them: nothing to generate
        for year, delivered in self._years:
            self.generated = year + 1
            if year >= have:
                yield year, delivered
            if self.generated >= want:
                return


async def load(url: str, history: Years, have: int, want: int) -> dict[str, Any]:
    """Grow the log from `have` years to `want`; return the load's figures."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        seconds = 0.0
        count = 0
        for year, delivered in history.until(have, want):
            seconds += await append_year(conn, delivered)
            count += len(delivered)
            say(f"  year {year + 1} appended", f"{len(delivered)} events")
        began = time.perf_counter()
        await conn.execute("VACUUM ANALYZE events")
        vacuum_s = time.perf_counter() - began
        total = int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()
    return {
        "appended": count,
        "append_s": round(seconds, 1),
        "append_events_per_s": round(count / seconds) if seconds else None,
        "vacuum_analyze_s": round(vacuum_s, 1),
        "events": total,
    }


async def projector_figures(url: str, budget_s: float) -> dict[str, Any]:
    """Catch-up from the read models' checkpoint for at most `budget_s`, then a full rebuild."""
    engine = create_engine(url, pool_size=4)
    try:
        began = time.perf_counter()
        projected = 0
        while time.perf_counter() - began < budget_s:
            count = await project_once(engine, 2000)
            if not count:
                break
            projected += count
        catch_up_s = time.perf_counter() - began
        began = time.perf_counter()
        report = await rebuild(engine)
        rebuild_s = time.perf_counter() - began
    finally:
        await engine.dispose()
    return {
        "catch_up_events": projected,
        "catch_up_events_per_s": round(projected / catch_up_s) if projected else None,
        "rebuild_s": round(rebuild_s, 1),
        "rebuild_events_per_s": round(report.events / rebuild_s),
    }


async def disk(url: str, events: int) -> dict[str, Any]:
    """Bytes on disk (`pg_total_relation_size`: table, indexes and TOAST; the read models' over
    their partitions), per million events."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        log = int(await conn.fetchval("SELECT pg_total_relation_size('events')"))
        models = 0
        for table in LIVE.all():
            models += int(
                await conn.fetchval(
                    "SELECT COALESCE(sum(pg_total_relation_size(relid)), 0) "
                    "FROM pg_partition_tree($1::regclass)",
                    table,
                )
            )
        database = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()
    per_m = 10**6 / events / 2**20
    return {
        "events_mb_per_m": round(log * per_m, 1),
        "read_models_mb_per_m": round(models * per_m, 1),
        "database_mb": round(database / 2**20),
    }


async def verify_chain(url: str) -> dict[str, Any]:
    """Walk the whole hash chain as `GET /v1/audit/verify` does."""
    engine = create_engine(url, pool_size=1)
    try:
        began = time.perf_counter()
        async with engine.begin() as conn:
            report = await ChainVerifier(conn).verify()
    finally:
        await engine.dispose()
    return {
        "ok": report.ok,
        "verified_through": report.verified_through,
        "seconds": round(time.perf_counter() - began, 1),
    }


async def measure(
    url: str,
    token: str,
    company: Company,
    history: Years,
    have: int,
    years: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Every figure at a log of `years` years, grown from `have`."""
    figures: dict[str, Any] = {"years": years, "calibration_s": [calibrate()]}
    figures["load"] = await load(url, history, have, years)
    events = figures["load"]["events"]
    figures["events"] = events
    say(f"{years} year(s): events", events)
    say("  appended, events/s", figures["load"]["append_events_per_s"])
    if args.verify:
        figures["chain"] = await verify_chain(url)
        say("  hash chain", figures["chain"])
        if not figures["chain"]["ok"]:
            raise SystemExit("the loaded log's hash chain does not verify")
    figures["projection"] = await projector_figures(url, args.catch_up_budget)
    say("  catch-up, events/s", figures["projection"]["catch_up_events_per_s"])
    say("  rebuild, s (goal < 200 at 10 M)", figures["projection"]["rebuild_s"])
    figures["disk"] = await disk(url, events)
    say("  disk", figures["disk"])
    quarter, end, deals = quarter_of(company, years)
    figures["quarter"] = quarter
    try:
        figures["service"] = await service_figures(
            url,
            token,
            quarter=quarter,
            quarter_end=end,
            log_end=year_end(company, years),
            deals=deals,
            count=args.count,
            rss_limit_mb=args.rss_limit_mb,
        )
    except (httpx.HTTPError, RuntimeError) as exc:  # the figures so far still count
        figures["service"] = {"failed": repr(exc)}
        say("  service figures failed", repr(exc))
        return figures
    service = figures["service"]
    for name in ("healthy_s", "warm_s", "rss_start_mb", "rss_warm_mb", "rss_after_reads_mb"):
        say(f"  service {name}", service[name])
    for name, value in service["reads"].items():
        say(f"  read {name}", value)
    say(f"  audit replay of {quarter}", service["audit_replay"])
    figures["calibration_s"].append(calibrate())
    return figures


async def prepared(url: str, where: Path) -> tuple[str, int]:
    """The admin token and the years the kept database already holds (0 for a new one)."""
    state = where / STATE
    if state.exists():
        kept = json.loads(state.read_text())
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            stored = int(await conn.fetchval("SELECT count(*) FROM events"))
        finally:
            await conn.close()
        if stored != kept.get("events", stored):
            raise SystemExit(
                f"{where} holds {stored} events, not the {kept['events']} of its last full "
                "year (a load was stopped halfway): start from an empty directory"
            )
        return str(kept["token"]), int(kept["years"])
    token = await prepare(url)
    state.write_text(json.dumps({"token": token, "years": 0, "events": 0}))
    return token, 0


async def main(args: argparse.Namespace, where: Path) -> dict[str, Any]:
    company = Company(deals_per_year=1_000, reps=50, teams=5) if args.quick else Company()
    sizes = sorted(int(size) for size in args.years.split(","))
    result: dict[str, Any] = {
        "quick": args.quick,
        "company": {
            "deals_per_year": company.deals_per_year,
            "reps": company.reps,
            "teams": company.teams,
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(),
        },
        "started": datetime.now(UTC).isoformat(),
        "sizes": [],
    }
    server = EmbeddedPostgres(where)
    url = server.start()
    try:
        token, have = await prepared(url, where)
        history = Years(company, max(sizes))
        for years in sizes:
            if years < have:
                say(f"{years} year(s)", f"skipped: the kept log holds {have} years")
                continue
            result["sizes"].append(await measure(url, token, company, history, have, years, args))
            have = years
            events = result["sizes"][-1]["events"]
            (where / STATE).write_text(
                json.dumps({"token": token, "years": have, "events": events})
            )
            _write(result, args.quick)
    finally:
        server.stop()
    return result


def _write(result: dict[str, Any], quick: bool) -> None:
    RESULTS.mkdir(exist_ok=True)
    name = "scale-quick" if quick else "scale"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    # The chart in the docs draws curves: a run that measured one size draws it beside the results.
    curves = not quick and len(result["sizes"]) > 1
    chart = CHART if curves else RESULTS / ("scale-quick.svg" if quick else "scale.svg")
    chart.write_text(scale_chart.svg(result["sizes"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small company, under a minute")
    parser.add_argument("--years", default=None, help="sizes in years, e.g. 1,3,10")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the database here")
    parser.add_argument("--catch-up-budget", type=float, default=30, help="seconds")
    parser.add_argument("--count", type=int, default=None, help="requests per read figure")
    parser.add_argument(
        "--rss-limit-mb",
        type=int,
        default=8192,
        help="stop the service if an audit replay takes more memory than this",
    )
    parser.add_argument("--verify", action="store_true", help="walk the hash chain at each size")
    args = parser.parse_args()
    args.years = args.years or ("1,2" if args.quick else "1,3,10")
    args.count = args.count or (5 if args.quick else 40)
    args.verify = args.verify or args.quick
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="funnel-scale-") as tmp:
        where = args.data_dir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        where.chmod(0o755)
        outcome = asyncio.run(main(args, where))
    outcome["seconds"] = round(time.perf_counter() - began, 1)
    _write(outcome, args.quick)
    say("total seconds", outcome["seconds"])
