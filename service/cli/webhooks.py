"""`funnel-ledger webhooks`: the webhook inbox from the command line (docs/integrations.md)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
from rich.console import Console

from service.application.bootstrap import bootstrap
from service.settings import Settings
from service.webhooks.config import load_webhook_config
from service.webhooks.context import ledger_lookup
from service.webhooks.replay import InboxReplay, Replayed

app = typer.Typer(help="The webhook inbox.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()


@app.command("replay")
def replay(
    vendor: Annotated[
        str | None, typer.Option(help="Only this vendor: hubspot, pipedrive, aircall, standard:S.")
    ] = None,
    item_id: Annotated[
        int | None, typer.Option("--id", min=1, help="Only this item (any vendor).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Replay at most this many.")] = 500,
) -> None:
    """Map the waiting inbox items again with the current mapping; store what maps, once."""
    settings = Settings()
    config = load_webhook_config(
        settings.webhooks_config, os.environ, public_url=settings.public_url
    )

    async def run() -> list[Replayed] | None:
        async with bootstrap(settings) as services:
            inbox = services.inbox
            if item_id is not None:
                item = await inbox.get(item_id)
                if item is None or (vendor is not None and item.vendor != vendor):
                    return None
                items = [item]
            else:
                items = await inbox.waiting(vendor=vendor, limit=limit)
            lookup = ledger_lookup(services.reader)
            replayer = InboxReplay(services.appender, inbox, config, lookup)
            return await replayer.replay(items, "replay:cli")

    done = asyncio.run(run())
    if done is None:
        console.print(f"no inbox item {item_id}")
        raise typer.Exit(1)
    for item in done:
        if item.status == "mapped":
            created = sum(1 for r in item.results if r["status"] == "created")
            what = f"mapped: {created} new of {len(item.results)} events"
        else:
            what = f"still in the inbox: {item.reason}"
        out.print(f"{item.id} {item.vendor} {item.key}: {what}", soft_wrap=True, markup=False)
    mapped = sum(1 for item in done if item.status == "mapped")
    console.print(
        f"replayed {len(done)} items: {mapped} mapped, {len(done) - mapped} still waiting"
    )
