"""The HTTP routes, one module per resource; `install_routes` adds them all to an app."""

from __future__ import annotations

from fastapi import FastAPI

from service.api.routes import (
    accounts,
    admin,
    admin_keys,
    admin_webhooks,
    analytics,
    audit,
    calendar,
    deals,
    events,
    exports,
    health,
    scoreboard,
    series,
    stream,
    targets,
    webhooks,
)

STREAMING_PREFIXES = (stream.STREAM_PATH, audit.PREFIX + "/")
"""Paths whose answers may stream for longer than any request deadline, once started."""


def install_routes(app: FastAPI) -> None:
    """Include every router, in the order the OpenAPI document lists them."""
    app.include_router(health.router)
    app.include_router(events.ingest_router)
    app.include_router(events.router)
    app.include_router(deals.router)
    app.include_router(scoreboard.router)
    app.include_router(series.router)
    app.include_router(accounts.router)
    app.include_router(admin.router)
    app.include_router(audit.router)
    app.include_router(admin_keys.router)
    app.include_router(admin_webhooks.router)
    app.include_router(webhooks.router)
    app.include_router(stream.router)
    app.include_router(targets.router)
    app.include_router(calendar.router)
    app.include_router(analytics.router)
    app.include_router(exports.router)
