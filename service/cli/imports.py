"""`funnel-ledger import salesforce|hubspot|events`: the command line of the importers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from service.application.bootstrap import bootstrap
from service.application.services import Services
from service.importers.hubspot import map_hubspot_pages
from service.importers.mapping import MappingProblem, load_import_mapping
from service.importers.ndjson import read_ndjson
from service.importers.report import Summary, default_report_path, write_report
from service.importers.rows import InvalidInput, Plan
from service.importers.rules import ImportRules
from service.importers.runner import (
    Checked,
    ImportFailed,
    append_all,
    dry_run,
    validate,
    verify_stored,
)
from service.importers.salesforce import map_salesforce
from service.settings import Settings
from service.store.projection.gc_tuning import paused_collections
from service.store.queries.imported_history import import_actor

app = typer.Typer(
    help="Import a CRM's past (Salesforce, HubSpot) or NDJSON CloudEvents.",
    no_args_is_help=True,
)
console = Console(stderr=True)
out = Console()
T = TypeVar("T")

MappingOption = Annotated[
    Path,
    typer.Option("--mapping", exists=True, dir_okay=False, help="The mapping file (YAML or JSON)."),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Store nothing; print the summary.")]
Strict = Annotated[bool, typer.Option("--strict", help="A skipped (unmapped) row is an error.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
ReportOption = Annotated[
    Path | None,
    typer.Option("--report", help="Where to list skipped rows (default: beside the input)."),
]


@dataclass(frozen=True, slots=True)
class Options:
    """What every import command takes."""

    dry_run: bool
    strict: bool
    as_json: bool
    report: Path


def with_database(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run `work` on the configured database (the only place an import opens it)."""

    async def run() -> T:
        async with bootstrap(Settings()) as services:
            return await work(services)

    return asyncio.run(run())


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]import failed[/red]: {message}", markup=True, highlight=False)
    return typer.Exit(code=1)


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("storing", total=total)
        yield lambda done: bar.advance(task, done)


def _run(
    source: str,
    options: Options,
    read: Callable[[datetime], tuple[Plan, str | None]],
    *,
    in_time_order: bool = True,
) -> None:
    now = datetime.now(UTC)
    summary = Summary(source=source, dry_run=options.dry_run)
    try:
        # Every row is held until validated: few of the objects made are garbage.
        with paused_collections():
            plan, digest = read(now)
            checked = validate(plan, now, in_time_order=in_time_order)
    except InvalidInput as exc:
        raise _fail(f"{exc} (nothing stored)") from None
    summary.rows, summary.ignored, summary.source_digest = plan.rows, plan.ignored, digest
    summary.events.update(item.event.type for item in checked)
    summary.skipped.update(item.reason for item in plan.skipped)
    summary.report = str(options.report)
    write_report(options.report, plan.skipped)
    if options.strict and plan.skipped:
        first = plan.skipped[0]
        raise _fail(
            f"{len(plan.skipped)} rows are not mapped (--strict), nothing stored; "
            f"first: {first.origin}: {first.reason}; all in {options.report}"
        )
    try:
        with_database(lambda services: _store(services, checked, summary, options))
    except InvalidInput as exc:
        raise _fail(f"{exc} (nothing stored)") from None
    except ImportFailed as exc:
        stored = f"{exc.stored} events stored before it; run again to finish"
        raise _fail(f"{exc} ({stored if exc.stored else 'nothing stored'})") from None
    if options.as_json:
        out.print_json(json.dumps(summary.to_json()))
    else:
        for line in summary.lines():
            out.print(line, markup=False, highlight=False)
    if summary.verified is False:
        raise typer.Exit(code=1)


async def _store(
    services: Services, checked: list[Checked], summary: Summary, options: Options
) -> None:
    engine = services.engine
    if options.dry_run:
        await dry_run(engine, checked, summary)
        return
    metadata = {"actor": import_actor(summary.source)}
    with _progress(len(checked), not options.as_json) as progress:
        await append_all(services.appender, checked, summary, metadata, progress)
    if summary.source_digest is not None:
        summary.verified = await verify_stored(engine, checked)


@app.command("salesforce")
def salesforce(
    directory: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, help="The folder of CSV files (Opportunity.csv, ...)."
        ),
    ],
    mapping: MappingOption,
    dry_run: DryRun = False,
    strict: Strict = False,
    as_json: AsJson = False,
    report: ReportOption = None,
) -> None:
    """Import a Salesforce export: Opportunity, OpportunityHistory, and optionally
    OpportunityFieldHistory, Task and Event CSV files."""
    try:
        config = load_import_mapping(mapping).salesforce
    except MappingProblem as exc:
        raise _fail(str(exc)) from None
    if config is None:
        raise _fail(f"{mapping} has no 'salesforce' section")
    rules = ImportRules.salesforce(config)
    options = Options(dry_run, strict, as_json, report or default_report_path(directory))
    _run("salesforce", options, lambda now: (map_salesforce(directory, rules, now), None))


@app.command("hubspot")
def hubspot(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, help="HubSpot CRM v3 pages: deals, calls, meetings."
        ),
    ],
    mapping: MappingOption,
    dry_run: DryRun = False,
    strict: Strict = False,
    as_json: AsJson = False,
    report: ReportOption = None,
) -> None:
    """Import HubSpot deals (with property history), calls and meetings."""
    try:
        config = load_import_mapping(mapping).hubspot
    except MappingProblem as exc:
        raise _fail(str(exc)) from None
    if config is None:
        raise _fail(f"{mapping} has no 'hubspot' section")
    options = Options(dry_run, strict, as_json, report or default_report_path(files[0]))
    _run("hubspot", options, lambda now: (map_hubspot_pages(files, config, now), None))


@app.command("events")
def events(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON CloudEvents or an export.")
    ],
    dry_run: DryRun = False,
    strict: Strict = False,
    as_json: AsJson = False,
    report: ReportOption = None,
) -> None:
    """Import NDJSON CloudEvents, such as `GET /v1/audit/export` writes (its digest checked)."""

    def read(_: datetime) -> tuple[Plan, str | None]:
        found = read_ndjson(file)
        return found.plan, None if found.source_digest is None else found.source_digest.digest

    options = Options(dry_run, strict, as_json, report or default_report_path(file))
    _run("events", options, read, in_time_order=False)
