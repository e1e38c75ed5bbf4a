"""The FastAPI application and its lifespan: the service's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __version__
from service.api.container import Services
from service.api.problems import install_problem_handlers
from service.api.routes import admin, deals, events, health, scoreboard
from service.runtime import open_database
from service.settings import Settings
from service.store.appender import EventAppender
from service.store.keys import KeyStore
from service.store.projector import Projector
from service.store.reader import EventReader

DESCRIPTION = """
Funnel Ledger turns every B2B sales action into an append-only CloudEvent and answers, for any
past date, the five numbers a sales manager runs a team on: closed deals, committed deals,
opportunities, leads and client visits, both as it happened (`as_of`) and as it was known then
(`known_at`). Every `/v1` route needs `Authorization: Bearer <key>` with the scope it names.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with open_database(settings) as engine:
        projector = Projector(
            engine,
            batch_size=settings.projector_batch_size,
            poll_seconds=settings.projector_poll_seconds,
        )
        app.state.services = Services(
            settings=settings,
            engine=engine,
            appender=EventAppender(engine, on_append=projector.wake),
            reader=EventReader(engine),
            keys=KeyStore(engine),
            projector=projector,
        )
        if settings.run_projector:
            projector.start()
        try:
            yield
        finally:
            await projector.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application for `settings` (read from the environment when not given)."""
    app = FastAPI(
        title="Funnel Ledger",
        version=__version__,
        description=" ".join(DESCRIPTION.split()),
        lifespan=_lifespan,
    )
    app.state.settings = settings or Settings()
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(deals.router)
    app.include_router(scoreboard.router)
    app.include_router(admin.router)
    return app
