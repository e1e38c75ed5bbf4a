"""Prometheus metrics of one application: ingestion, rejections, projector and latency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import CloudEvent
from service.store.log.appender import AppendResult, EventAppender
from service.store.log.reader import EventReader
from service.store.projection import checkpoints
from service.store.projection.read_model_writer import READ_MODELS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The metrics of one app, in a registry of its own (several apps may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "funnel_events_ingested",
            "Events newly stored, by type.",
            ["type"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "funnel_events_rejected",
            "Ingestion requests refused, by reason (the problem type).",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "funnel_http_request_duration_seconds",
            "HTTP request latency, by method, route template and status.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.head = self._gauge("funnel_log_head_position", "Newest position in the event log.")
        self.checkpoint = self._gauge(
            "funnel_projector_checkpoint", "Log position the read models reflect."
        )
        self.lag = self._gauge("funnel_projector_lag_events", "Events not yet projected.")
        self.leader = self._gauge(
            "funnel_projector_leader", "1 if this process runs the active projector."
        )
        self.failing = self._gauge(
            "funnel_projector_failing", "1 if the projector's last attempt failed."
        )

    def _gauge(self, name: str, documentation: str) -> Gauge:
        return Gauge(name, documentation, registry=self.registry)

    def count_created(self, events: Sequence[CloudEvent], results: Sequence[AppendResult]) -> None:
        """Count the events of a batch that were newly stored."""
        created: dict[str, int] = {}
        for event, result in zip(events, results, strict=True):
            if result.status == "created":
                created[event.type] = created.get(event.type, 0) + 1
        for event_type, count in created.items():
            self.ingested.labels(type=event_type).inc(count)

    async def render(self, engine: AsyncEngine, reader: EventReader, is_leader: bool) -> bytes:
        """The text exposition, with the projector gauges read now."""
        head = await reader.head()
        async with engine.connect() as conn:
            checkpoint = await checkpoints.load(conn, READ_MODELS)
        self.head.set(head)
        self.checkpoint.set(checkpoint.position)
        self.lag.set(max(head - checkpoint.position, 0))
        self.leader.set(1 if is_leader else 0)
        self.failing.set(1 if checkpoint.last_error else 0)
        return generate_latest(self.registry)


class MeteredAppender(EventAppender):
    """The appender, counting what every ingestion path (API, webhooks, demo) newly stores."""

    def __init__(self, engine: AsyncEngine, metrics: Metrics, **options: Any) -> None:
        super().__init__(engine, **options)
        self._metrics = metrics

    async def append(
        self, events: Sequence[CloudEvent], metadata: Mapping[str, Any] | None = None
    ) -> list[AppendResult]:
        """Append as `EventAppender` does, then count the created events by type."""
        results = await super().append(events, metadata)
        self._metrics.count_created(events, results)
        return results
