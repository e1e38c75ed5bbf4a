"""The composition root's product: every long-lived collaborator of the running service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service.settings import Settings
from service.store.appender import EventAppender
from service.store.keys import KeyStore
from service.store.projector import Projector
from service.store.reader import EventReader


@dataclass(slots=True)
class Services:
    """What routes may use; built once in the app's lifespan."""

    settings: Settings
    engine: AsyncEngine
    appender: EventAppender
    reader: EventReader
    keys: KeyStore
    projector: Projector
    rebuild_state: Any = None
