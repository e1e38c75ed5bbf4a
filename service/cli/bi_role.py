"""`funnel-ledger bi-role`: read-only database logins for BI tools (docs/bi.md)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from service.application.bootstrap import bootstrap
from service.bi.connection import bi_connection_string
from service.bi.roles import DEFAULT_STATEMENT_TIMEOUT_SECONDS, RoleNameError, create_bi_role
from service.settings import Settings

app = typer.Typer(help="Read-only logins for BI tools.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="The login's name (lower case, a-z 0-9 _).")],
    password: Annotated[
        str,
        typer.Option(help="Its password.", prompt=True, hide_input=True, confirmation_prompt=True),
    ],
    statement_timeout: Annotated[
        int,
        typer.Option(
            min=1, help="Seconds after which its statements and idle transactions are cut off."
        ),
    ] = DEFAULT_STATEMENT_TIMEOUT_SECONDS,
) -> None:
    """Create a login that may only SELECT the `reporting` views (or reset its password).

    Its connection string is printed as the last line; it holds the password only when the
    password was given on the command line (a prompted one is never shown).
    """
    settings = Settings()
    # By name: typer carries its own copy of click, whose enum is not `click.core`'s.
    source = ctx.get_parameter_source("password")
    typed = source is None or source.name != "PROMPT"

    async def run() -> tuple[bool, str]:
        async with bootstrap(settings) as services:
            existed = await create_bi_role(
                services.engine, name, password, settings.timezone, statement_timeout
            )
            # While the database is open: the embedded server says where it answers.
            return existed, bi_connection_string(settings, name, password if typed else None)

    try:
        existed, url = asyncio.run(run())
    except RoleNameError as exc:
        raise typer.BadParameter(str(exc), param_hint="--name") from exc
    action = "updated" if existed else "created"
    console.print(
        f"{action} read-only role {name!r}: SELECT on schema reporting only, "
        f"statements cut off after {statement_timeout} s"
    )
    if settings.database_url is None and settings.listen is None:
        console.print(
            "the embedded database answers on its socket only: set FUNNEL_EMBEDDED_LISTEN "
            "(such as 127.0.0.1:5433) and restart for BI tools over TCP"
        )
    typer.echo(url)
