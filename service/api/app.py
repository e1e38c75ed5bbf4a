"""The FastAPI application and its lifespan: the service's composition root."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __version__
from service.api.container import Services
from service.api.problems import install_problem_handlers
from service.api.routes import events
from service.embedded import EmbeddedPostgres
from service.settings import Settings
from service.store.appender import EventAppender
from service.store.database import create_engine
from service.store.keys import KeyStore
from service.store.migrate import upgrade_to_head
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
    embedded: EmbeddedPostgres | None = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = await asyncio.to_thread(embedded.start)
    engine = create_engine(url, pool_size=settings.pool_size)
    try:
        await upgrade_to_head(engine)
        app.state.services = Services(
            settings=settings,
            engine=engine,
            appender=EventAppender(engine),
            reader=EventReader(engine),
            keys=KeyStore(engine),
        )
        yield
    finally:
        await engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application for `settings` (read from the environment when not given)."""
    app = FastAPI(
        title="Funnel Ledger",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.settings = settings or Settings()
    install_problem_handlers(app)
    app.include_router(events.router)
    return app
