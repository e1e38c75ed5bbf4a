"""All configuration, read once from the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.embedded import Listen

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names, Monday (0) first, as `FUNNEL_WORKWEEK` spells them."""


def parse_workweek(text: str) -> frozenset[int]:
    """Weekdays (Monday 0) from `mon-fri`, `sun-thu` (a range may wrap past Sunday) or
    `mon,tue,sat`, or a mix of both. ValueError when a name is unknown or nothing is named."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(end in WEEKDAY_NAMES for end in ends):
            raise ValueError(f"{text!r} is not a workweek such as 'mon-fri' or 'mon,tue,sat'")
        first, last = WEEKDAY_NAMES.index(ends[0]), WEEKDAY_NAMES.index(ends[-1])
        days.update((first + offset) % 7 for offset in range((last - first) % 7 + 1))
    return frozenset(days)


class Settings(BaseSettings):
    """Service settings; every field can be set by the environment variable named in its alias."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    database_read_url: str | None = Field(default=None, alias="DATABASE_READ_URL")
    data_dir: Path = Field(default=Path(".funnel-ledger"), alias="FUNNEL_DATA_DIR")
    embedded_listen: str | None = Field(default=None, alias="FUNNEL_EMBEDDED_LISTEN")
    timezone: str = Field(default="UTC", alias="FUNNEL_TIMEZONE")
    workweek: str = Field(default="mon-fri", alias="FUNNEL_WORKWEEK")
    max_batch_events: int = Field(default=1000, alias="FUNNEL_MAX_BATCH_EVENTS", ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, alias="FUNNEL_MAX_BODY_BYTES", ge=1024)
    read_wait_seconds: float = Field(default=10.0, alias="FUNNEL_READ_WAIT_SECONDS", ge=0)
    projector_poll_seconds: float = Field(default=1.0, alias="FUNNEL_PROJECTOR_POLL_SECONDS", gt=0)
    projector_batch_size: int = Field(default=2000, alias="FUNNEL_PROJECTOR_BATCH_SIZE", ge=1)
    run_projector: bool = Field(default=True, alias="FUNNEL_RUN_PROJECTOR")
    warm_wait_seconds: float = Field(default=600.0, alias="FUNNEL_WARM_WAIT_SECONDS", ge=0)
    """How long start-up waits for the in-memory copy's first load before serving (0: not)."""
    read_holder_dir: Path | None = Field(default=None, alias="FUNNEL_READ_HOLDER_DIR")
    """A private directory shared by the workers of one host: one of them holds the in-memory
    copy and answers reads for all, over a Unix socket there (`serve --workers N` sets it)."""
    rebuild_preload_wait_seconds: float = Field(
        default=600.0, alias="FUNNEL_REBUILD_PRELOAD_WAIT_SECONDS", ge=0
    )
    """How long a rebuild waits, before its swap, for the running services to preload the new
    read models (0: swap at once; they then reload after it, SQL answering meanwhile)."""
    pool_size: int = Field(default=10, alias="FUNNEL_DB_POOL_SIZE", ge=1)
    webhooks_config: Path | None = Field(default=None, alias="FUNNEL_WEBHOOKS_CONFIG")
    rate_limit_per_second: float = Field(default=200.0, alias="FUNNEL_RATE_LIMIT_PER_SECOND", gt=0)
    rate_limit_burst: int = Field(default=2000, alias="FUNNEL_RATE_LIMIT_BURST", ge=1)
    auth_failures_per_second: float = Field(
        default=1.0, alias="FUNNEL_AUTH_FAILURES_PER_SECOND", gt=0
    )
    auth_failures_burst: int = Field(default=100, alias="FUNNEL_AUTH_FAILURES_BURST", ge=1)
    max_span_days: int = Field(default=3660, alias="FUNNEL_MAX_SPAN_DAYS", ge=1)
    max_concurrent_exports: int = Field(default=4, alias="FUNNEL_MAX_CONCURRENT_EXPORTS", ge=1)
    export_stall_seconds: float = Field(default=30.0, alias="FUNNEL_EXPORT_STALL_SECONDS", gt=0)
    request_timeout_seconds: float = Field(
        default=30.0, alias="FUNNEL_REQUEST_TIMEOUT_SECONDS", gt=0
    )
    keep_alive_seconds: int = Field(default=5, alias="FUNNEL_KEEP_ALIVE_SECONDS", ge=1)
    max_connections: int | None = Field(default=None, alias="FUNNEL_MAX_CONNECTIONS", ge=1)
    session_secret: SecretStr | None = Field(default=None, alias="FUNNEL_SESSION_SECRET")
    session_hours: float = Field(default=8.0, alias="FUNNEL_SESSION_HOURS", gt=0, le=24 * 30)
    public_url: str | None = Field(default=None, alias="FUNNEL_PUBLIC_URL")
    forwarded_allow_ips: str | None = Field(default=None, alias="FUNNEL_FORWARDED_ALLOW_IPS")
    api_docs: bool = Field(default=False, alias="FUNNEL_API_DOCS")

    sse_heartbeat_seconds: float = Field(default=15.0, alias="FUNNEL_SSE_HEARTBEAT_SECONDS", gt=0)
    log_level: str = Field(default="INFO", alias="FUNNEL_LOG_LEVEL")
    log_format: Literal["json", "text"] = Field(default="json", alias="FUNNEL_LOG_FORMAT")
    opentelemetry: bool = Field(default=False, alias="FUNNEL_OPENTELEMETRY")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("workweek")
    @classmethod
    def _known_weekdays(cls, value: str) -> str:
        parse_workweek(value)
        return value

    @cached_property
    def workweek_days(self) -> frozenset[int]:
        """The usual working weekdays (Monday 0 to Sunday 6) of the company calendar."""
        return parse_workweek(self.workweek)

    @field_validator("embedded_listen")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None:
            Listen.parse(value)
        return value

    @property
    def listen(self) -> Listen | None:
        """The TCP address the embedded PostgreSQL listens on for BI tools (None: socket only)."""
        return None if self.embedded_listen is None else Listen.parse(self.embedded_listen)

    @field_validator("public_url")
    @classmethod
    def _origin_only(cls, value: str | None) -> str | None:
        # The service is served at the root of its origin: a path would not be honoured.
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the public URL is http:// or https:// and a host")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError("the public URL is a scheme and a host (and port), nothing else")
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @property
    def https(self) -> bool:
        """Whether the public URL is https (then cookies are Secure and HSTS is sent)."""
        return self.public_url is not None and self.public_url.startswith("https://")

    @cached_property
    def zone(self) -> ZoneInfo:
        """The company time zone."""
        return ZoneInfo(self.timezone)

    @property
    def max_future_skew(self) -> timedelta:
        """How far in the future an event's time may lie."""
        return timedelta(minutes=5)
