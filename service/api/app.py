"""The FastAPI application and its lifespan: the service's composition root."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from service import __version__
from service.api.body_limit import install_body_limit
from service.api.container import Services
from service.api.export_stream import ExportGate
from service.api.live import LogSignal
from service.api.metrics import MeteredAppender, Metrics
from service.api.observe import RequestObserver
from service.api.problems import PROBLEM_RESPONSES, install_problem_handlers
from service.api.ratelimit import RateLimiter
from service.api.routes import (
    admin,
    admin_keys,
    admin_webhooks,
    analytics,
    audit,
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
from service.api.routes.admin import stop_rebuild
from service.api.text_guard import RejectNulInUrl
from service.api.timeouts import RequestTimeout
from service.api.transport_security import StrictTransportSecurity
from service.api.unauthenticated import ClientFailures
from service.runtime import open_database, open_read_engine
from service.settings import Settings
from service.store.inbox import WebhookInbox
from service.store.keys import KeyStore
from service.store.projector import Projector
from service.store.read_mirror import ReadMirror
from service.store.reader import EventReader
from service.web.routes import MAX_FORM_BYTES
from service.web.routes import install as install_dashboard
from service.webhooks.config import load_webhook_config

GC_THRESHOLDS = (50_000, 50, 100)
"""The collector's generation thresholds while serving (CPython's defaults: 700, 10, 10)."""
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
ADMIN_BODY_BYTES = 16 * 1024
"""An administrator's JSON (a key's name, scopes and expiry) takes a few hundred bytes."""

DESCRIPTION = """
Funnel Ledger turns every B2B sales action into an append-only CloudEvent and answers, for any
past date, the five numbers a sales manager runs a team on: closed deals, committed deals,
opportunities, leads and client visits, both as it happened (`as_of`) and as it was known then
(`known_at`). Every `/v1` route needs `Authorization: Bearer <key>` with the scope it names.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    webhook_config = load_webhook_config(
        settings.webhooks_config, os.environ, public_url=settings.public_url
    )
    async with open_database(settings) as engine, open_read_engine(settings, engine) as reads:
        projector = Projector(
            engine,
            batch_size=settings.projector_batch_size,
            poll_seconds=settings.projector_poll_seconds,
        )
        live = LogSignal()

        def on_append(position: int) -> None:
            projector.wake(position)
            live.notify(position)

        app.state.services = Services(
            settings=settings,
            engine=engine,
            read_engine=reads,
            appender=MeteredAppender(engine, app.state.metrics, on_append=on_append),
            reader=EventReader(engine),
            keys=KeyStore(engine),
            projector=projector,
            webhooks=webhook_config,
            inbox=WebhookInbox(engine),
            live=live,
            mirror=ReadMirror(reads),
            exports=ExportGate(settings.max_concurrent_exports),
        )
        if settings.run_projector:
            projector.start()
        # What start-up built (routes, schemas, models) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise pause requests for tens of ms.
        # Requests free nearly everything they allocate by reference counting; collecting the
        # young generation every 50 000 allocations instead of 700 saves about a tenth of the
        # CPU of a single-event request.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        app.state.services.mirror.warm()
        try:
            yield
        finally:
            await app.state.services.mirror.close()
            await projector.stop()
            await stop_rebuild(app.state.services)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application for `settings` (read from the environment when not given)."""
    settings = settings or Settings()
    app = FastAPI(
        title="Funnel Ledger",
        version=__version__,
        description=" ".join(DESCRIPTION.split()),
        lifespan=_lifespan,
        responses=PROBLEM_RESPONSES,
        # FastAPI's own OpenTelemetry instrumentation asks the providers on every request;
        # /metrics and the access log cover operations unless it is asked for.
        telemetry=None if settings.opentelemetry else _NO_TELEMETRY,
        # Swagger UI and ReDoc load their scripts from a CDN: off unless asked for.
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.state.rate_limiter = RateLimiter.from_settings(app.state.settings)
    app.add_middleware(RejectNulInUrl)
    app.add_middleware(
        RequestTimeout,
        seconds=app.state.settings.request_timeout_seconds,
        # An export must start its answer within the deadline too; once it has, its client
        # must accept each write within FUNNEL_EXPORT_STALL_SECONDS (export_stream).
        exempt=(stream.STREAM_PATH, "/v1/audit/"),
    )
    # Bodies are bounded before anything else reads them (inside the observer, which logs the
    # refusals); failed authentications are counted per client where they are found.
    install_body_limit(
        app,
        settings.max_body_bytes,
        (("/login", MAX_FORM_BYTES), ("/v1/admin/", ADMIN_BODY_BYTES)),
    )
    app.state.auth_failures = ClientFailures.from_settings(settings)
    app.state.metrics = Metrics()
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    if settings.https:
        app.add_middleware(StrictTransportSecurity)
    app.include_router(health.router)
    app.include_router(events.ingest_router)
    app.include_router(events.router)
    app.include_router(deals.router)
    app.include_router(scoreboard.router)
    app.include_router(series.router)
    app.include_router(admin.router)
    app.include_router(audit.router)
    app.include_router(admin_keys.router)
    app.include_router(admin_webhooks.router)
    app.include_router(webhooks.router)
    app.include_router(stream.router)
    app.include_router(targets.router)
    app.include_router(analytics.router)
    app.include_router(exports.router)
    install_dashboard(app)
    return app
