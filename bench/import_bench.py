"""Importing a Salesforce export: rows read, mapped and validated per second, and events stored
per second, against HTTP ingestion of the same events in 1000-event batches, in the same run.

    python -m bench.import_bench [--rows N] [--quick] [--database-url URL]

Goals: reading and mapping at least 20 000 rows/s; storing no slower than HTTP batches. Without
`--database-url` an embedded PostgreSQL is started for the run; with one, two databases are
created beside it (and dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import make_url

from bench.infra import embedded_server, sql, start_service
from service.events.envelope import CloudEvent
from service.importers.report import Summary
from service.importers.rules import ImportRules
from service.importers.runner import append_all, validate
from service.importers.salesforce import map_salesforce
from service.keys.api_keys import KeyStore, Scope
from service.runtime import open_database
from service.settings import Settings
from service.store.log.appender import EventAppender
from service.store.projection.gc_tuning import paused_collections
from service.webhooks.config import SalesforceConfig

STAGES = ["Prospecting", "Qualification", "Id. Decision Makers", "Negotiation/Review"]
CLOSED = ["Closed Won", "Closed Lost", "Closed - Disqualified"]
USERS = [f"0055e000001U{n:03d}AAA" for n in range(20)]
CONFIG = SalesforceConfig.model_validate(
    {
        "currency": "USD",
        "users": {user: f"R-{n:02d}" for n, user in enumerate(USERS)},
        "deal_created": {"type": "lead.sourced", "data": {"channel": "other"}},
        "stages": {
            "Prospecting": None,
            "Qualification": "deal.qualified",
            "Id. Decision Makers": {"type": "deal.eb_committed", "data": {"eb": {"name": "EB"}}},
            "Negotiation/Review": "deal.committee_approved",
            "Closed Won": "deal.contract_signed",
            "Closed Lost": {"type": "deal.lost", "data": {"reason": "lost"}},
            "Closed - Disqualified": {"type": "deal.disqualified", "data": {"reason": "no fit"}},
        },
        "activities": {"Call": "call.logged", "Meeting": "visit.completed"},
        "first_visit_is_fsi": True,
    }
)


def _stamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def generate(folder: Path, rows: int, seed: int = 16) -> None:
    """An export of about `rows` rows: per deal 1 opportunity, ~5 history rows, 2 tasks, 1 event."""
    rng = random.Random(seed)
    deals = max(1, rows // 9)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    files = {
        name: (folder / f"{name}.csv").open("w", newline="", encoding="utf-8")
        for name in ("Opportunity", "OpportunityHistory", "Task", "Event")
    }
    writers = {name: csv.writer(handle, quoting=csv.QUOTE_ALL) for name, handle in files.items()}
    writers["Opportunity"].writerow(
        [
            "Id",
            "Name",
            "Account.Name",
            "OwnerId",
            "Amount",
            "StageName",
            "LeadSource",
            "CreatedDate",
            "IsClosed",
        ]
    )
    writers["OpportunityHistory"].writerow(
        ["Id", "OpportunityId", "StageName", "Amount", "CloseDate", "CreatedDate", "CreatedById"]
    )
    writers["Task"].writerow(
        [
            "Id",
            "WhatId",
            "OwnerId",
            "TaskSubtype",
            "CallType",
            "CallDurationInSeconds",
            "ActivityDate",
            "CreatedDate",
            "Status",
        ]
    )
    writers["Event"].writerow(["Id", "WhatId", "OwnerId", "Type", "StartDateTime", "EndDateTime"])
    history = 0
    for n in range(deals):
        deal = f"006{n:015d}"
        owner = rng.choice(USERS)
        created = start + timedelta(minutes=rng.randrange(900 * 24 * 60))
        amount = rng.randrange(5, 500) * 1000
        path = [*STAGES[: rng.randrange(2, 5)], rng.choice(CLOSED)]
        writers["Opportunity"].writerow(
            [
                deal,
                f"Deal {n}",
                f"Account {n}",
                owner,
                amount,
                path[-1],
                "Web",
                _stamp(created),
                "true",
            ]
        )
        at = created
        for stage in path:
            history += 1
            writers["OpportunityHistory"].writerow(
                [f"008{history:015d}", deal, stage, amount, "2026-01-31", _stamp(at), owner]
            )
            at += timedelta(days=rng.randrange(1, 20))
        for k in range(2):
            call = created + timedelta(days=k + 1)
            writers["Task"].writerow(
                [
                    f"00T{n:013d}{k:02d}",
                    deal,
                    owner,
                    "Call",
                    "Outbound",
                    rng.randrange(30, 900),
                    call.date().isoformat(),
                    _stamp(call),
                    "Completed",
                ]
            )
        visit = created + timedelta(days=3)
        writers["Event"].writerow(
            [
                f"00U{n:015d}",
                deal,
                owner,
                "Meeting",
                _stamp(visit),
                _stamp(visit + timedelta(hours=1)),
            ]
        )
    for handle in files.values():
        handle.close()


async def _fresh(url: str, name: str) -> str:
    await sql(url, f"DROP DATABASE IF EXISTS {name}")
    await sql(url, f"CREATE DATABASE {name}")
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _http(url: str, events: list[CloudEvent]) -> float:
    async with open_database(Settings.model_validate({"DATABASE_URL": url})) as engine:
        token = (await KeyStore(engine).create("bench", frozenset({Scope.EVENTS_WRITE}))).token
    bodies = []
    for begin in range(0, len(events), 1000):
        batch = [
            {
                "specversion": "1.0",
                "id": e.id,
                "source": e.source,
                "type": e.type,
                "subject": e.subject,
                "time": e.time_text,
                "data": e.data_json(),
            }
            for e in events[begin : begin + 1000]
        ]
        bodies.append(orjson.dumps(batch))
    server = start_service(url, projector=False)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cloudevents-batch+json",
    }
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
            began = time.perf_counter()
            for body in bodies:
                answer = await http.post("/v1/events", content=body, headers=headers)
                assert answer.status_code in (200, 201), answer.text[:300]
            return time.perf_counter() - began
    finally:
        server.stop()


async def measure(url: str, rows: int) -> dict[str, Any]:
    """Read, map and validate `rows` rows; store them; then HTTP the same events."""
    with tempfile.TemporaryDirectory(prefix="funnel-import-") as tmp:
        folder = Path(tmp)
        generate(folder, rows)
        now = datetime.now(UTC)
        began, began_cpu = time.perf_counter(), time.process_time()
        with paused_collections():  # as the command does
            plan = map_salesforce(folder, ImportRules.salesforce(CONFIG), now)
            checked = validate(plan, now, in_time_order=True)
        mapping_s = time.perf_counter() - began
        # One thread and no I/O but the files: on a shared machine its CPU time says what the
        # code costs when the wall clock also counts other work.
        mapping_cpu_s = time.process_time() - began_cpu
    import_url = await _fresh(url, f"bench_import_{os.getpid()}")
    http_url = await _fresh(url, f"bench_http_{os.getpid()}")
    summary = Summary(source="salesforce", dry_run=False)
    async with open_database(Settings.model_validate({"DATABASE_URL": import_url})) as engine:
        began = time.perf_counter()
        await append_all(EventAppender(engine), checked, summary, {"actor": "bench"})
        store_s = time.perf_counter() - began
    http_s = await _http(http_url, [item.event for item in checked])
    for name in (f"bench_import_{os.getpid()}", f"bench_http_{os.getpid()}"):
        await sql(url, f"DROP DATABASE IF EXISTS {name}")
    events = len(checked)
    return {
        "rows": plan.rows,
        "events": events,
        "created": summary.created,
        "read_map_validate_rows_per_s": round(plan.rows / mapping_s),
        "read_map_validate_rows_per_cpu_s": round(plan.rows / mapping_cpu_s),
        "import_store_events_per_s": round(events / store_s),
        "http_1000_batches_events_per_s": round(events / http_s),
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="10 000 rows, for CI")
    parser.add_argument("--database-url", help="a PostgreSQL server to create databases on")
    args = parser.parse_args()
    rows = 10_000 if args.quick else args.rows
    if args.database_url:
        figures = asyncio.run(measure(args.database_url, rows))
    else:
        with embedded_server() as url:
            figures = asyncio.run(measure(url, rows))
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
    goal = figures["read_map_validate_rows_per_s"] >= 20_000
    print(
        f"read+map+validate >= 20 000 rows/s: {'yes' if goal else 'NO'}; storing "
        f"{'no slower' if figures['import_store_events_per_s'] >= figures['http_1000_batches_events_per_s'] else 'SLOWER'} than HTTP batches"
    )


if __name__ == "__main__":
    main()
