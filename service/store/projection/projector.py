"""The async projector: tails the log from its checkpoint into the read models.

Rows and checkpoint commit in one transaction, so a crash never applies a batch twice or skips
one. Exactly one projector is active per database (a session advisory lock elects it); it wakes
on LISTEN/NOTIFY and on local appends, and polls as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.recorded import RecordedEvent
from service.store.log.appender import NOTIFY_CHANNEL
from service.store.log.event_rows import FOLD_COLUMNS, Batch, fetch_batch
from service.store.log.recent import RecentEvents
from service.store.projection import checkpoints
from service.store.projection.gc_tuning import fewer_collections
from service.store.projection.history_cache import HistoryCache
from service.store.projection.read_model_writer import (
    READ_MODELS,
    apply_batch,
    fold_new_events,
    insert_flow_rows,
    new_deal_events,
    refold_deals,
    touched_deals,
)
from service.waiting import within

PROJECTOR_LOCK = 7_351_002
COALESCE_SECONDS = 0.25
GATHER_UNDER_LOAD_SECONDS = 1.0
"""How long appends that keep arriving are gathered into one round, unless a reader waits."""
FAR_BEHIND = 20_000
"""Events behind the head from which a round projects a whole window instead of one batch."""
WINDOW = 200_000
"""The most events one far-behind round projects (in one transaction)."""
KEPT_HISTORIES = 50_000
"""How many deals' histories the running projector keeps between rounds (about 2 kB each)."""
RECENT_EVENTS = 50_000
"""How many of this process's newest appends it hands to its projector (about 0.5 kB each)."""
_log = logging.getLogger(__name__)
_FEED = f"SELECT {FOLD_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
_RANGE = (
    f"SELECT {FOLD_COLUMNS} FROM events WHERE position > $1 AND position <= $2 "
    "ORDER BY position LIMIT $3"
)
_HEAD = text("SELECT COALESCE(max(position), 0) FROM events")


async def project_once(
    engine: AsyncEngine,
    batch_size: int,
    name: str = READ_MODELS,
    *,
    far_behind: int = FAR_BEHIND,
    window: int = WINDOW,
    histories: HistoryCache | None = None,
    recent: RecentEvents | None = None,
) -> int:
    """Project one batch after the checkpoint; return how many events it held.

    More than `far_behind` events behind the head, the round takes a window of up to `window`
    events instead: each deal it touches is refolded once for the whole window rather than once
    per batch, which is what makes catching up from far behind fast. With `histories` (the
    running projector's), a deal whose history is kept folds only its new events; with
    `recent`, events this process appended are taken from it instead of read back.
    """
    async with engine.begin() as conn:
        checkpoint = await checkpoints.load(conn, name, lock=True)
        after = checkpoint.position
        batch = await _read(conn, recent, after, batch_size)
        if not batch.read:
            return 0
        if histories is not None:
            histories.begin(after)
        head = int((await conn.execute(_HEAD)).scalar_one()) if batch.read == batch_size else 0
        if head - after > max(far_behind, batch_size):
            end = min(head, after + max(window, batch_size))
            with fewer_collections():
                count = await _project_window(conn, batch, end, batch_size, histories, recent)
        else:
            # An event out of range is read but not in `batch.events`: the checkpoint passes it.
            end, count = batch.last_position, batch.read
            if histories is None:
                await apply_batch(conn, batch.events)
            else:
                await insert_flow_rows(conn, batch.events)
                await fold_new_events(conn, new_deal_events(batch.events), end, histories)
        await checkpoints.advance(conn, name, end)
    if histories is not None:
        histories.committed(end)
    return count


async def _read(
    conn: AsyncConnection,
    recent: RecentEvents | None,
    after: int,
    limit: int,
    through: int | None = None,
) -> Batch:
    """The events after `after` (at most `limit`, none past `through`): handed over, or read."""
    batch = None if recent is None else recent.batch(after, limit, through)
    if batch is not None:
        return batch
    if through is None:
        return await fetch_batch(conn, _FEED, after, limit)
    return await fetch_batch(conn, _RANGE, after, through, limit)


async def _project_window(
    conn: AsyncConnection,
    first: Batch,
    end: int,
    batch_size: int,
    histories: HistoryCache | None,
    recent: RecentEvents | None,
) -> int:
    """Project every event up to `end`, starting with the batch `first` already read.

    The per-event rows go in batch by batch; then the deals touched anywhere in the window get
    their segments recomputed once, from their streams up to `end` (or from their kept
    histories and the window's events).
    """
    deals: set[str] = set()
    new_events: dict[str, list[RecordedEvent]] = {}
    count = 0
    batch = first
    while batch.read:
        await insert_flow_rows(conn, batch.events)
        if histories is None:
            deals |= touched_deals(batch.events)
        else:
            for deal, events in new_deal_events(batch.events).items():
                new_events.setdefault(deal, []).extend(events)
        count += batch.read
        batch = await _read(conn, recent, batch.last_position, batch_size, end)
    if histories is None:
        await refold_deals(conn, deals, end)
    else:
        await fold_new_events(conn, new_events, end, histories)
    return count


async def catch_up(
    engine: AsyncEngine,
    batch_size: int,
    *,
    far_behind: int = FAR_BEHIND,
    window: int = WINDOW,
    histories: HistoryCache | None = None,
    recent: RecentEvents | None = None,
) -> int:
    """Project until the read models reach the head of the log; return the events projected."""
    total = 0
    while count := await project_once(
        engine, batch_size, far_behind=far_behind, window=window, histories=histories, recent=recent
    ):
        total += count
    return total


class Projector:
    """Keeps the read models up to date while the service runs."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_size: int,
        poll_seconds: float,
        recent: RecentEvents | None = None,
    ) -> None:
        self._engine = engine
        self._recent = recent
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._urgent = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._histories = HistoryCache(KEPT_HISTORIES)
        self.is_leader = False

    def wake(self, _position: int | None = None) -> None:
        """Ask the projector to look at the log now (called after a local append)."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background until `stop`."""
        self._task = asyncio.create_task(self._run(), name="projector")

    async def stop(self) -> None:
        """Stop and release leadership."""
        task, self._task = self._task, None
        if task is None:
            return
        # Asked again until it has stopped: a cancellation lost inside a library's own bounded
        # wait must not leave the projector running, and its caller (a shutdown) waiting.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        with contextlib.suppress(asyncio.CancelledError):
            task.result()

    async def wait_for(self, target: int, wait_seconds: float) -> bool:
        """Wait until the read models reflect `target`; False if `wait_seconds` pass first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        delay = 0.002
        while True:
            if await checkpoints.position(self._engine, READ_MODELS) >= target:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._urgent.set()
            self._wake.set()
            async with self._progress:
                await within(min(delay, remaining), self._progress.wait())
            delay = min(delay * 2, 0.05)

    async def _run(self) -> None:
        while True:
            try:
                async with self._engine.connect() as session:
                    try:
                        await self._lead(session)
                    finally:
                        # A session lock must not go back to the pool with the connection.
                        await session.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.exception("projector failed; retrying")
                with contextlib.suppress(Exception):
                    await checkpoints.record_error(self._engine, READ_MODELS, repr(exc))
                await asyncio.sleep(self._poll_seconds)
            finally:
                self.is_leader = False
                self._histories.clear()  # another leader may project meanwhile
                if self._recent is not None:
                    self._recent.wanted = False
                    self._recent.clear()

    async def _lead(self, session: AsyncConnection) -> None:
        """Become the leader (or wait to), then project whenever woken or polled."""
        # Another process may hold the lock: poll for it, as no event tells us it was released.
        while not await _try_lock(session):  # noqa: ASYNC110
            await asyncio.sleep(self._poll_seconds)
        self.is_leader = True
        if self._recent is not None:
            self._recent.wanted = True
        await session.commit()
        listener = await self._listen(session)
        try:
            while True:
                self._wake.clear()
                await _still_connected(session)
                # More than a batch behind (appends kept arriving while gathering), one window
                # refolds each touched deal once instead of once per batch.
                while await project_once(
                    self._engine,
                    self._batch_size,
                    far_behind=self._batch_size,
                    histories=self._histories,
                    recent=self._recent,
                ):
                    await self._notify_progress()
                await self._notify_progress()
                await within(self._poll_seconds, self._wake.wait())
                await self._coalesce()
        finally:
            await listener()

    async def _coalesce(self) -> None:
        """Let a burst of appends gather into one round, unless a reader is waiting.

        While appends keep arriving (the log is being written to without pause), the gathering
        goes on, pause after pause, up to `GATHER_UNDER_LOAD_SECONDS`: under sustained load the
        projector then runs fewer, larger rounds, each refolding a deal once however many of
        its events arrived, and leaves the event loop to the requests meanwhile. A reader
        waiting for a position (`wait_for`) ends the gathering at once.
        """
        # One round per event would cost a transaction and a deal refold per event, on the
        # same event loop that serves requests; a short pause batches them.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GATHER_UNDER_LOAD_SECONDS
        while not self._urgent.is_set():
            self._wake.clear()
            await within(min(COALESCE_SECONDS, max(deadline - loop.time(), 0)), self._urgent.wait())
            if not self._wake.is_set() or loop.time() >= deadline:
                break
        self._urgent.clear()

    async def _notify_progress(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def _listen(self, session: AsyncConnection) -> Any:
        raw = await session.get_raw_connection()
        driver: Any = raw.driver_connection

        def on_notify(*_args: object) -> None:
            self._wake.set()

        await driver.add_listener(NOTIFY_CHANNEL, on_notify)

        async def unlisten() -> None:
            with contextlib.suppress(Exception):
                await driver.remove_listener(NOTIFY_CHANNEL, on_notify)

        return unlisten


async def _still_connected(session: AsyncConnection) -> None:
    """Raise if the session holding the lock is gone (say, the database restarted)."""
    # Projecting runs on pooled connections that reconnect by themselves; without this check a
    # leader whose lock went with its session would go on projecting beside a new leader.
    await session.execute(text("SELECT 1"))
    await session.commit()


async def _try_lock(session: AsyncConnection) -> bool:
    result = await session.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": PROJECTOR_LOCK}
    )
    return bool(result.scalar_one())
