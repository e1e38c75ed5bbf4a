"""`funnel-ledger verify` and `funnel-ledger replay`: the audit use cases on the command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.application import audits
from service.application.bootstrap import bootstrap
from service.audit.render import replay_json, verify_json
from service.audit.replay import ReplayReport
from service.audit.request_log import AuditRequest
from service.projections.periods import parse_instant, parse_period
from service.projections.scoreboard import ScoreNumbers
from service.settings import Settings
from service.store.chain.verifier import Anchor, ChainReport

err = Console(stderr=True)
out = Console()
CLI_ACTOR = "cli"


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (over log positions, or events); yields the callback that
    advances it."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=max(total, 1))
        yield lambda position: bar.update(task, completed=position)


def _anchor(position: int | None, hash_hex: str | None) -> Anchor | None:
    if position is None and hash_hex is None:
        return None
    if position is None or hash_hex is None:
        raise typer.BadParameter("give both --anchor-position and --anchor-hash")
    try:
        return Anchor(position, bytes.fromhex(hash_hex))
    except ValueError as exc:
        raise typer.BadParameter("not a hex hash", param_hint="--anchor-hash") from exc


async def _verify(settings: Settings, anchor: Anchor | None) -> ChainReport:
    async with bootstrap(settings) as services:
        return await audits.verify_chain(
            services,
            anchor,
            AuditRequest(actor=CLI_ACTOR, endpoint="cli:verify"),
            partial(_progress, "verifying the chain"),
        )


def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    anchor_position: Annotated[
        int | None, typer.Option(help="A position whose hash you kept from a past check.")
    ] = None,
    anchor_hash: Annotated[str | None, typer.Option(help="The hash you kept for it.")] = None,
) -> None:
    """Recompute the whole hash chain and name its first break; exit 1 if it is broken."""
    report = asyncio.run(_verify(Settings(), _anchor(anchor_position, anchor_hash)))
    if as_json:
        typer.echo(json.dumps(verify_json(report)))
    elif report.first_break is None:
        head = report.last_hash.hex() if report.last_hash else "-"
        out.print(f"chain intact: {report.head_position} events; head hash {head}")
    else:
        problem = report.first_break
        out.print(
            f"chain BROKEN at position {problem.position} ({problem.reason}): {problem.detail}"
        )
    if report.out_of_range_count and not as_json:
        listed = ", ".join(str(position) for position in report.out_of_range)
        out.print(
            f"{report.out_of_range_count} events with a time out of range, never counted, "
            f"at positions {listed}"
        )
    if not report.ok:
        raise typer.Exit(1)


def _bounds(
    settings: Settings, period: str | None, start: str | None, end: str | None
) -> tuple[datetime, datetime]:
    if period is None and (start is None or end is None):
        raise typer.BadParameter("give --period, or --from and --to")
    try:
        if period is not None:
            return parse_period(period, settings.zone)
        return _instant(settings, start), _instant(settings, end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _instant(settings: Settings, value: str | None) -> datetime:
    assert value is not None
    return parse_instant(value, settings.zone, end_of_date=False)


async def _replay(
    settings: Settings,
    bounds: tuple[datetime, datetime],
    known_at: datetime | None,
    catch_up: bool,
) -> ReplayReport:
    start, end = bounds
    async with bootstrap(settings) as services:
        if catch_up:
            await audits.catch_up_here(services)
        return await audits.replay_period(
            services,
            start=start,
            end=end,
            known_at=await audits.known_at_or_sealed(services, known_at),
            asker=AuditRequest(actor=CLI_ACTOR, endpoint="cli:replay"),
            progress=partial(_progress, "replaying the period"),
        )


def _cells(numbers: ScoreNumbers) -> list[str]:
    value = ", ".join(f"{c} {format(v, 'f')}" for c, v in sorted(numbers.closed_value.items()))
    return [
        str(numbers.closed_deals),
        value or "-",
        str(numbers.committed_deals),
        str(numbers.opportunities),
        str(numbers.leads),
        f"{numbers.client_visits} ({numbers.fsi_visits}/{numbers.fua_visits})",
        f"{numbers.open.leads}/{numbers.open.opportunities}/{numbers.open.committed_deals}",
    ]


def _print_report(body: dict[str, Any], report: ReplayReport) -> None:
    table = Table(
        "rep",
        "closed",
        "closed value",
        "committed",
        "opportunities",
        "leads",
        "visits (FSI/FUA)",
        "open L/O/C",
        title=f"{body['from']} .. {body['to']} as known at {body['known_at']}",
    )
    for row in report.board.rows:
        table.add_row(row.key or "(none)", *_cells(row.numbers))
    table.add_row("total", *_cells(report.board.totals), style="bold")
    out.print(table)
    out.print(f"events considered: {report.events_considered} ({report.retractions} retractions)")
    out.print(f"events folded: {report.events_folded} (the rest: deals settled before the period)")
    out.print(f"digest: {report.digest}")
    matches = report.projection_matches
    if matches is None:
        out.print("read models: not compared (they lag behind known_at; try --catch-up)")
    else:
        out.print(f"read models: {'match' if matches else 'DIFFER'}")
    for difference in body["differences"]:
        out.print(f"  {difference['scope']} {difference['key']}: {', '.join(difference['fields'])}")


def replay_command(
    period: Annotated[str | None, typer.Option(help="2026-Q1, 2026-03 or 2026-W10.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start (a date: 00:00).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End, excluded.")] = None,
    known_at: Annotated[str | None, typer.Option(help="Transaction time; default now.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    catch_up: Annotated[
        bool, typer.Option(help="Bring the read models up to date before comparing.")
    ] = False,
) -> None:
    """Replay a period's scoreboard from the raw events and compare it with the read models."""
    settings = Settings()
    bounds = _bounds(settings, period, start, end)
    if not bounds[0] < bounds[1]:
        raise typer.BadParameter("--to must be later than --from")
    try:
        known = _instant(settings, known_at) if known_at else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--known-at") from exc
    report = asyncio.run(_replay(settings, bounds, known, catch_up))
    body = replay_json(report, period)
    if as_json:
        typer.echo(json.dumps(body))
    else:
        _print_report(body, report)
