"""What `bootstrap` builds: every long-lived collaborator the use cases work with."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from service.application.board_cache import BoardCache
from service.application.exports import ExportGate
from service.application.log_signal import LogSignal
from service.application.meeting_cache import MeetingCache
from service.application.metrics import Metrics
from service.application.read_holder import ReadHolder
from service.application.rebuilds import Rebuilds
from service.keys.api_keys import KeyStore
from service.settings import Settings
from service.store.log.appender import EventAppender
from service.store.log.reader import EventReader
from service.store.mirror.preload_listener import PreloadListener
from service.store.mirror.read_mirror import ReadMirror
from service.store.projection.projector import Projector
from service.webhooks.config import WebhookConfig
from service.webhooks.inbox import WebhookInbox


@dataclass(slots=True)
class Services:
    """The collaborators of one running service (or one command), built once by `bootstrap`."""

    settings: Settings
    engine: AsyncEngine
    read_engine: AsyncEngine
    appender: EventAppender
    reader: EventReader
    keys: KeyStore
    projector: Projector
    webhooks: WebhookConfig
    inbox: WebhookInbox
    metrics: Metrics = field(default_factory=Metrics)
    rebuilds: Rebuilds = field(default_factory=Rebuilds)
    live: LogSignal = field(default_factory=LogSignal)
    boards: BoardCache = field(default_factory=BoardCache)
    meetings: MeetingCache = field(default_factory=MeetingCache)
    mirror: ReadMirror = field(default_factory=ReadMirror)
    exports: ExportGate = field(default_factory=ExportGate)
    preloads: PreloadListener | None = None
    """Listens for other processes' rebuilds to preload them into `mirror` (a serving one)."""
    read_holder: ReadHolder | None = None
    """With several workers: whether this one holds the copy, and where the holder listens."""

    def claim_reads(self) -> bool:
        """Keep the in-memory copy here unless another worker holds it (load it, follow the
        read models, preload rebuilds); whether this process holds it. Idempotent."""
        if self.read_holder is not None and not self.read_holder.claim():
            return False
        self.mirror.follow()
        if self.preloads is None:
            self.preloads = PreloadListener(self.engine, self.mirror)
            self.preloads.start()
        return True

    @property
    def read_log(self) -> EventReader:
        """The log as the read routes see it: on the read replica when one is configured."""
        return self.reader if self.read_engine is self.engine else EventReader(self.read_engine)
