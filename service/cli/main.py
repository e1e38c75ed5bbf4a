"""The `funnel-ledger` commands: serve, migrate, keys, project, rebuild, demo, openapi; the
audit commands (`verify`, `replay`) and `bi-role` are added from their own modules."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import logging.config
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from service.application.access import first_admin_key
from service.application.bootstrap import bootstrap
from service.cli import audit as audit_cli
from service.cli import bi_role
from service.cli import imports as import_cli
from service.cli import webhooks as webhooks_cli
from service.durations import parse_duration
from service.keys.api_keys import ApiKey, IssuedKey, KeyNotRotatable, parse_scopes
from service.logs import logging_config
from service.projections.periods import parse_instant
from service.settings import Settings

app = typer.Typer(
    help="Funnel Ledger: the five numbers of a sales team, for any past date.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list, rotate and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(bi_role.app, name="bi-role")
app.add_typer(import_cli.app, name="import")
app.add_typer(webhooks_cli.app, name="webhooks")
console = Console(stderr=True)
out = Console()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (needs DATABASE_URL).")] = 1,
    warm_wait: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds each worker waits, before it accepts connections, for the in-memory "
            "copy of the read models to load (0: serve at once, SQL answering meanwhile). "
            "Default: FUNNEL_WARM_WAIT_SECONDS, else 600.",
        ),
    ] = None,
    copy_in_every_worker: Annotated[
        bool,
        typer.Option(
            help="With several workers, each holds its own in-memory copy of the read models "
            "and answers its own reads (memory: one copy per worker). By default one worker "
            "holds it and answers every read, the others forwarding theirs to it.",
        ),
    ] = False,
) -> None:
    """Migrate the database, then serve the HTTP API (once the in-memory copy is loaded)."""
    if warm_wait is not None:
        # The workers read their settings from the environment.
        os.environ["FUNNEL_WARM_WAIT_SECONDS"] = str(warm_wait)
    settings = Settings()
    log_config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(log_config)
    if workers > 1 and settings.database_url is None:
        raise typer.BadParameter(
            "several workers need a shared DATABASE_URL", param_hint="--workers"
        )
    if workers > 1 and settings.session_secret is None:
        # Each worker would sign dashboard sessions with its own random secret.
        raise typer.BadParameter(
            "several workers need a shared FUNNEL_SESSION_SECRET", param_hint="--workers"
        )
    token = asyncio.run(_bootstrap(settings))
    options: dict[str, Any] = {
        "app": "service.api.main:app",
        "host": host,
        "port": port,
        "workers": workers,
        "loop": "uvloop",
        "http": "httptools",
        "proxy_headers": True,
        # Whose X-Forwarded-Proto/-For to believe (None: uvicorn's FORWARDED_ALLOW_IPS, else
        # 127.0.0.1); the scheme decides Secure cookies when FUNNEL_PUBLIC_URL is unset.
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        "log_level": settings.log_level.lower(),
        "log_config": log_config,
        "access_log": False,
    }
    if workers > 1:
        if token is not None:
            _show_first_key(token)
        with _read_holder_dir(copy_in_every_worker):
            uvicorn.run(**options)
        return
    server = uvicorn.Server(uvicorn.Config(**options))
    if token is not None:
        # Printed once the server listens, so that the key is the last line a first start shows.
        threading.Thread(target=_show_when_started, args=(server, token), daemon=True).start()
    server.run()
    if not server.started:
        raise typer.Exit(3)  # uvicorn's own status when the server could not start


@contextlib.contextmanager
def _read_holder_dir(copy_in_every_worker: bool) -> Iterator[None]:
    """The workers' private directory where one holds the copy (unless each holds its own)."""
    if copy_in_every_worker:
        os.environ.pop("FUNNEL_READ_HOLDER_DIR", None)
        yield
        return
    directory = tempfile.mkdtemp(prefix="funnel-ledger-reads-")  # mode 0700: this user only
    os.environ["FUNNEL_READ_HOLDER_DIR"] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _show_first_key(token: str) -> None:
    console.print("[bold]No API key existed: created an admin key, shown only this once:[/]")
    out.print(token, soft_wrap=True)


def _show_when_started(server: uvicorn.Server, token: str) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    _show_first_key(token)


async def _bootstrap(settings: Settings) -> str | None:
    """Migrate, and on a store with no key yet, create a first admin key: its token."""
    async with bootstrap(settings) as services:
        issued = await first_admin_key(services)
        return None if issued is None else issued.token


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""

    async def run() -> None:
        async with bootstrap(Settings()):
            console.print("database migrated to the newest schema")

    asyncio.run(run())


_EXPIRES_HELP = (
    "Expiry: a date (its 00:00) or an RFC 3339 date-time, in FUNNEL_TIMEZONE unless it has an "
    "offset; from 1900 to 2199."
)


def _expiry(settings: Settings, value: str | None) -> datetime | None:
    """`--expires` as an instant in the accepted range (a bad parameter otherwise)."""
    if value is None:
        return None
    try:
        return parse_instant(value, settings.zone, end_of_date=False)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--expires") from exc


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: events:write, read, audit, admin.")],
    expires: Annotated[str | None, typer.Option(help=_EXPIRES_HELP)] = None,
) -> None:
    """Create a key; its token is printed as the last line, and shown only this once."""
    try:
        scope_set = parse_scopes(scopes)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scopes") from exc
    settings = Settings()
    expires_at = _expiry(settings, expires)

    async def run() -> str:
        async with bootstrap(settings) as services:
            issued = await services.keys.create(name, scope_set, expires_at)
            console.print(
                f"created key {issued.key.key_id} ({name}: {', '.join(sorted(scope_set))})"
            )
            return issued.token

    out.print(asyncio.run(run()), soft_wrap=True)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """List keys (never their secrets)."""

    async def run() -> None:
        async with bootstrap(Settings()) as services:
            keys = await services.keys.list()
        if as_json:
            out.print_json(
                json.dumps(
                    [
                        {
                            "key_id": k.key_id,
                            "name": k.name,
                            "scopes": sorted(k.scopes),
                            "created_at": k.created_at.isoformat(),
                            "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                            "replaced_by": k.replaced_by,
                        }
                        for k in keys
                    ]
                )
            )
            return
        table = Table("key id", "name", "scopes", "created", "expires", "revoked", "last used")
        for k in keys:
            table.add_row(
                k.key_id,
                k.name,
                ",".join(sorted(k.scopes)),
                _when(k.created_at),
                _when(k.expires_at),
                _when(k.revoked_at),
                _when(k.last_used_at),
            )
        out.print(table)

    asyncio.run(run())


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (see `keys list`).")],
) -> None:
    """Revoke a key at once."""

    async def run() -> bool:
        async with bootstrap(Settings()) as services:
            return await services.keys.revoke(key_id)

    if not asyncio.run(run()):
        console.print(f"no active key {key_id!r}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="The key id (see `keys list`).")],
    overlap: Annotated[str, typer.Option(help="How long the old key stays valid: 24h.")] = "24h",
    expires: Annotated[str | None, typer.Option(help=_EXPIRES_HELP)] = None,
) -> None:
    """Issue a successor; the old key works until the overlap ends. Prints the new token last."""
    try:
        window = parse_duration(overlap)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--overlap") from exc
    settings = Settings()
    expires_at = _expiry(settings, expires)

    async def run() -> tuple[ApiKey, IssuedKey] | None:
        async with bootstrap(settings) as services:
            return await services.keys.rotate(key_id, window, expires_at)

    try:
        rotated = asyncio.run(run())
    except KeyNotRotatable as exc:
        console.print(str(exc))
        raise typer.Exit(1) from exc
    if rotated is None:
        console.print(f"no key {key_id!r}")
        raise typer.Exit(1)
    old, issued = rotated
    until = _when(old.expires_at)
    console.print(f"rotated {key_id} -> {issued.key.key_id}; {key_id} stays valid until {until}")
    out.print(issued.token, soft_wrap=True)


@app.command()
def project() -> None:
    """Run the projector alone, following the log until stopped (serve the API with
    FUNNEL_RUN_PROJECTOR=false then); one projector leads at a time, others stand by."""
    import signal

    settings = Settings()
    if settings.database_url is None:
        raise typer.BadParameter("a projector process needs a shared DATABASE_URL")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with bootstrap(settings) as services:
            services.projector.start()  # stopped when the services are released
            console.print("projecting; stop with Ctrl-C")
            await stop.wait()

    asyncio.run(run())


@app.command("rebuild")
def rebuild_command() -> None:
    """Rebuild the read models from position 0 and swap them in (the service may keep running)."""
    from rich.progress import Progress

    from service.application.rebuilds import rebuild_now

    async def run() -> None:
        async with bootstrap(Settings()) as services:
            with Progress(console=console) as bar:
                task = bar.add_task("rebuilding read models", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = await rebuild_now(
                    services.engine,
                    progress,
                    preload_wait_seconds=services.settings.rebuild_preload_wait_seconds,
                )
        console.print(
            f"rebuilt {report.events} events, {report.deals} deals; "
            f"read models at position {report.position}"
        )

    asyncio.run(run())


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Same seed, same demo.")] = 7,
    reps: Annotated[int, typer.Option(help="Reps in the team (2-99), split in two teams.")] = 8,
    quarter: Annotated[
        str | None, typer.Option(help="An ended quarter, such as 2026-Q1 (default: the last).")
    ] = None,
) -> None:
    """Load a realistic demo quarter (about 300 deals) through the ingestion path, idempotently."""
    from service.application.demo_load import LoadReport, load_demo
    from service.demo import last_ended_quarter, quarter_bounds

    settings = Settings()
    now = datetime.now(settings.zone)
    chosen = quarter or last_ended_quarter(now.date())
    try:
        if quarter_bounds(chosen, settings.zone)[1] > now:
            raise typer.BadParameter(f"{chosen} has not ended yet", param_hint="--quarter")

        async def run() -> LoadReport:
            async with bootstrap(settings) as services:
                return await load_demo(services, seed=seed, reps=reps, quarter=chosen)

        report = asyncio.run(run())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(
        f"demo {chosen} (seed {seed}, {reps} reps): {report.created} events stored, "
        f"{report.duplicates} already there"
    )


@app.command()
def openapi() -> None:
    """Print the OpenAPI document the service serves, as YAML."""
    import yaml

    from service.api.app import create_app

    document = create_app(Settings()).openapi()
    out.print(
        yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
        end="",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


def _when(instant: datetime | None) -> str:
    return instant.isoformat(timespec="seconds") if instant else "-"


def main() -> None:
    """Entry point of the console script."""
    app()


app.command("verify")(audit_cli.verify)
app.command("replay")(audit_cli.replay_command)
