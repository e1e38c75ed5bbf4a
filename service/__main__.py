"""`python -m service` is the `funnel-ledger` command."""

from service.cli import main

main()
