"""The `funnel-ledger` command line; every command that needs the database runs `bootstrap`."""

from service.cli.main import app, main

__all__ = ["app", "main"]
