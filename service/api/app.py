"""The FastAPI application: middleware, problem details, routes and the dashboard; its lifespan
runs `bootstrap` (service.application), the one place collaborators are built."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from service import __version__
from service.api.http.problems import PROBLEM_RESPONSES, install_problem_handlers
from service.api.middleware.body_limit import install_body_limit
from service.api.middleware.deadline import RequestTimeout
from service.api.middleware.nul_in_url import RejectNulInUrl
from service.api.middleware.request_observer import RequestObserver
from service.api.middleware.strict_transport import StrictTransportSecurity
from service.api.openapi_doc import install_openapi, operation_id
from service.api.read_forwarding import ReadForwarding, reads_held
from service.api.routes import STREAMING_PREFIXES, install_routes
from service.api.security.failed_auth import ClientFailures
from service.api.security.rate_limit import RateLimiter
from service.application.bootstrap import bootstrap
from service.application.metrics import Metrics
from service.settings import Settings
from service.web import MAX_FORM_BYTES, install_dashboard

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
    async with bootstrap(app.state.settings, serving=True, metrics=app.state.metrics) as services:
        app.state.services = services
        # What start-up built (routes, schemas, models) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise pause requests for tens of ms.
        # Requests free nearly everything they allocate by reference counting; collecting the
        # young generation every 50 000 allocations instead of 700 saves about a tenth of the
        # CPU of a single-event request.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        async with reads_held(app, services):
            yield


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
        generate_unique_id_function=operation_id,
    )
    install_openapi(app)
    app.state.settings = settings
    install_problem_handlers(app)
    app.state.rate_limiter = RateLimiter.from_settings(app.state.settings)
    app.add_middleware(RejectNulInUrl)
    app.add_middleware(
        RequestTimeout,
        seconds=app.state.settings.request_timeout_seconds,
        # An export must start its answer within the deadline too; once it has, its client
        # must accept each write within FUNNEL_EXPORT_STALL_SECONDS (export_stream).
        exempt=STREAMING_PREFIXES,
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
    # Outermost: a worker that does not hold the in-memory copy passes its reads on untouched.
    app.add_middleware(ReadForwarding)
    install_routes(app)
    install_dashboard(app)
    return app
