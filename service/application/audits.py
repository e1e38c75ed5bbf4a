"""Audit use cases: verify the hash chain, replay a period, export it, read the request log.

Every audit question is logged in `audit_requests` with who asked (`asker`: actor, endpoint,
key id) and the digest of the answer, whether it came over HTTP or from the command line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from service.application.consistent_reads import snapshot
from service.application.services import Services
from service.audit.export import ExportScope, ExportSummary, export_pages
from service.audit.progress import ProgressBar, no_progress
from service.audit.render import verify_json
from service.audit.replay import ReplayReport, replay
from service.audit.request_log import AuditLog, AuditRequest, LoggedRequest
from service.store.chain.verifier import Anchor, ChainReport, ChainVerifier
from service.store.database.snapshots import repeatable_read
from service.store.log.period_events import head_position
from service.store.log.transaction_time import sealed_now
from service.store.projection.projector import catch_up


async def verify_chain(
    services: Services,
    anchor: Anchor | None,
    asker: AuditRequest,
    progress: ProgressBar | None = None,
) -> ChainReport:
    """Recompute every event's hash in one snapshot, name the first break; log the question."""
    async with repeatable_read(services.engine) as conn:
        total = await head_position(conn) if progress is not None else 0
        with (progress or no_progress)(total) as advance:
            report = await ChainVerifier(conn).verify(anchor, on_progress=advance)
    body = verify_json(report)
    await AuditLog(services.engine).record(
        asker,
        digest=body["head_hash"],
        result={k: body[k] for k in ("ok", "head_position", "verified_through", "first_break")},
    )
    return report


async def known_at_or_sealed(services: Services, known_at: datetime | None) -> datetime:
    """`known_at` as given, else now as taken after every append in flight."""
    return known_at if known_at is not None else await sealed_now(services.engine)


async def let_projection_settle(services: Services) -> None:
    """Give the running projector up to the read wait to reach the head (best effort: a
    lagging projector only leaves the replay's comparison out)."""
    await services.projector.wait_for(
        await services.reader.head(), services.settings.read_wait_seconds
    )


async def catch_up_here(services: Services) -> None:
    """Bring the read models up to date in this process (a command with no projector)."""
    await catch_up(services.engine, services.settings.projector_batch_size)


async def replay_period(
    services: Services,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    asker: AuditRequest,
    progress: ProgressBar | None = None,
) -> ReplayReport:
    """The scoreboard by rep of [start, end) recomputed from the events alone, compared with
    the read models of the same snapshot; the question is logged."""
    async with snapshot(services, consistency="eventual") as snap:
        report = await replay(
            snap.conn,
            start=start,
            end=end,
            known_at=known_at,
            read_models_position=snap.position,
            progress=progress or no_progress,
        )
    await AuditLog(services.engine).record(
        replace(asker, period_from=start, period_to=end, known_at=known_at),
        digest=report.digest,
        result={
            "events_considered": report.events_considered,
            "events_folded": report.events_folded,
            "projection_matches": report.projection_matches,
            "differences": len(report.differences),
        },
    )
    return report


async def export_period(
    services: Services, scope: ExportScope, asker: AuditRequest
) -> AsyncIterator[bytes]:
    """Log the question, then the NDJSON export of the period, a page at a time; the log
    entry is completed with the digest just before the trailer."""
    log = AuditLog(services.engine)
    request_id = await log.record(
        replace(asker, period_from=scope.start, period_to=scope.end, known_at=scope.known_at),
        digest=None,
        result={},
        complete=False,
    )

    async def complete(summary: ExportSummary) -> None:
        await log.complete(request_id, digest=summary.digest, result=summary.to_json())

    return export_pages(services.engine, scope, complete)


async def request_log(
    services: Services, *, before: int | None, limit: int, asker: AuditRequest
) -> list[LoggedRequest]:
    """Who asked which audit question when, newest first; reading it is logged too."""
    log = AuditLog(services.engine)
    logged = await log.page(before=before, limit=limit)
    await log.record(asker, digest=None, result={"returned": len(logged)})
    return logged
