"""All configuration, read once from the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service settings; every field can be set by the environment variable named in its alias."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".funnel-ledger"), alias="FUNNEL_DATA_DIR")
    timezone: str = Field(default="UTC", alias="FUNNEL_TIMEZONE")
    max_batch_events: int = Field(default=1000, alias="FUNNEL_MAX_BATCH_EVENTS", ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, alias="FUNNEL_MAX_BODY_BYTES", ge=1024)
    read_wait_seconds: float = Field(default=10.0, alias="FUNNEL_READ_WAIT_SECONDS", ge=0)
    projector_poll_seconds: float = Field(default=1.0, alias="FUNNEL_PROJECTOR_POLL_SECONDS", gt=0)
    projector_batch_size: int = Field(default=2000, alias="FUNNEL_PROJECTOR_BATCH_SIZE", ge=1)
    run_projector: bool = Field(default=True, alias="FUNNEL_RUN_PROJECTOR")
    pool_size: int = Field(default=10, alias="FUNNEL_DB_POOL_SIZE", ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        """The company time zone."""
        return ZoneInfo(self.timezone)

    @property
    def max_future_skew(self) -> timedelta:
        """How far in the future an event's time may lie."""
        return timedelta(minutes=5)
