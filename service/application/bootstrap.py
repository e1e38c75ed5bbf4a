"""The composition root: `Settings` in, every collaborator of the service out.

The FastAPI lifespan and every command that needs the database call `bootstrap`; nothing else
builds engines, appenders, keys or projectors.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.application.exports import ExportGate
from service.application.log_signal import LogSignal
from service.application.metrics import MeteredAppender, Metrics
from service.application.read_holder import HOLDER_POLL_SECONDS, ReadHolder
from service.application.services import Services
from service.keys.api_keys import KeyStore
from service.runtime import open_database, open_read_engine
from service.settings import Settings
from service.store.log.reader import EventReader
from service.store.log.recent import RecentEvents
from service.store.mirror.read_mirror import ReadMirror
from service.store.projection.projector import RECENT_EVENTS, Projector
from service.waiting import within
from service.webhooks.config import WebhookConfig, load_webhook_config
from service.webhooks.inbox import WebhookInbox


async def _warm(services: Services) -> None:
    """Until reads are answered from memory: this process's copy loaded, or, in a worker that
    forwards its reads, the holder's socket open (the holder opens it once its copy is
    loaded); a worker that finds the copy unheld takes it and loads it."""
    holder = services.read_holder
    while holder is not None and not services.claim_reads():
        if holder.socket.exists():
            return
        await asyncio.sleep(HOLDER_POLL_SECONDS)
    await services.mirror.loaded_once()


@asynccontextmanager
async def bootstrap(
    settings: Settings, *, serving: bool = False, metrics: Metrics | None = None
) -> AsyncIterator[Services]:
    """The service's collaborators on its migrated database, released on exit.

    `serving` (the web app) also loads the webhook receivers' configuration, starts the
    projector unless `FUNNEL_RUN_PROJECTOR` is false, and loads the in-memory copy of the read
    models, which then follows them and preloads the rebuilds of other processes (start-up
    waits for that first load up to `FUNNEL_WARM_WAIT_SECONDS`, so the first request is
    answered from memory); a command gets neither receivers nor background work (it starts
    what it needs). `metrics` counts what is appended (a new registry when not given). On exit
    any background work started here or later (projector, in-memory load, rebuild) is stopped.
    """
    webhooks = (
        load_webhook_config(settings.webhooks_config, os.environ, public_url=settings.public_url)
        if serving
        else WebhookConfig()
    )
    metrics = metrics if metrics is not None else Metrics()
    async with open_database(settings) as engine, open_read_engine(settings, engine) as reads:
        recent = RecentEvents(RECENT_EVENTS)
        projector = Projector(
            engine,
            batch_size=settings.projector_batch_size,
            poll_seconds=settings.projector_poll_seconds,
            recent=recent,
        )
        live = LogSignal()
        # With several workers one holds the in-memory copy; the others forward their reads.
        holder = (
            ReadHolder(settings.read_holder_dir) if serving and settings.read_holder_dir else None
        )

        def on_append(position: int) -> None:
            projector.wake(position)
            live.notify(position)

        services = Services(
            settings=settings,
            engine=engine,
            read_engine=reads,
            appender=MeteredAppender(engine, metrics, on_append=on_append, recent=recent),
            reader=EventReader(engine),
            keys=KeyStore(engine),
            projector=projector,
            webhooks=webhooks,
            inbox=WebhookInbox(engine),
            metrics=metrics,
            live=live,
            mirror=ReadMirror(reads, dormant=holder is not None),
            exports=ExportGate(settings.max_concurrent_exports),
            read_holder=holder,
        )
        if serving:
            if settings.run_projector:
                projector.start()
            services.claim_reads()
        try:
            if serving and settings.warm_wait_seconds > 0:
                await within(settings.warm_wait_seconds, _warm(services))
            yield services
        finally:
            if holder is not None:
                holder.release()
            if services.preloads is not None:
                await services.preloads.close()
            await services.mirror.close()
            await projector.stop()
            await services.rebuilds.stop()
