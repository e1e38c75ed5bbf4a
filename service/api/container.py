"""The composition root's product: every long-lived collaborator of the running service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service.api.boards import BoardCache
from service.api.export_stream import ExportGate
from service.api.live import LogSignal
from service.settings import Settings
from service.store.appender import EventAppender
from service.store.inbox import WebhookInbox
from service.store.keys import KeyStore
from service.store.projector import Projector
from service.store.read_mirror import ReadMirror
from service.store.reader import EventReader
from service.webhooks.config import WebhookConfig


@dataclass(slots=True)
class Services:
    """What routes may use; built once in the app's lifespan."""

    settings: Settings
    engine: AsyncEngine
    read_engine: AsyncEngine
    appender: EventAppender
    reader: EventReader
    keys: KeyStore
    projector: Projector
    webhooks: WebhookConfig
    inbox: WebhookInbox
    rebuild_state: Any = None
    live: LogSignal = field(default_factory=LogSignal)
    boards: BoardCache = field(default_factory=BoardCache)
    mirror: ReadMirror = field(default_factory=ReadMirror)
    exports: ExportGate = field(default_factory=ExportGate)

    @property
    def read_log(self) -> EventReader:
        """The log as the read routes see it: on the read replica when one is configured."""
        return self.reader if self.read_engine is self.engine else EventReader(self.read_engine)
