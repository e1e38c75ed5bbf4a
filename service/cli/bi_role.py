"""`funnel-ledger bi-role`: read-only database logins for BI tools (docs/bi.md)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from service.application.bootstrap import bootstrap
from service.settings import Settings
from service.store.bi_roles import DEFAULT_STATEMENT_TIMEOUT_SECONDS, RoleNameError, create_bi_role

app = typer.Typer(help="Read-only logins for BI tools.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("create")
def create(
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
    """Create a login that may only SELECT the `reporting` views (or reset its password)."""
    settings = Settings()

    async def run() -> bool:
        async with bootstrap(settings) as services:
            return await create_bi_role(
                services.engine, name, password, settings.timezone, statement_timeout
            )

    try:
        existed = asyncio.run(run())
    except RoleNameError as exc:
        raise typer.BadParameter(str(exc), param_hint="--name") from exc
    action = "updated" if existed else "created"
    console.print(
        f"{action} read-only role {name!r}: SELECT on schema reporting only, "
        f"statements cut off after {statement_timeout} s"
    )
