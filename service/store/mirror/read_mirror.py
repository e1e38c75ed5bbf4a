"""An in-memory mirror of the flow facts and deal segments, kept equal to one snapshot's.

A scoreboard or funnel read takes a snapshot whose read models reflect log position P. The
mirror holds the same rows as numpy columns, stamped with the position and the storage of the
live partitions (a rebuild swaps in a freshly loaded one, so it changes). Asked for position P,
it answers with columns equal to that snapshot's tables, loading them in that very snapshot:

- stamped P with the same tables: as it is;
- stamped with an earlier position and the same tables: the rows of the deals with an event
  in between are reloaded and swapped in (a deal's rows depend on its own stream alone);
- anything else (first use, a rebuild, far behind): every row is reloaded;
- a snapshot older than the mirror: None, and the caller reads SQL.

Given an engine (as the service does), a full reload runs in the background in a snapshot of
its own, and requests are answered from SQL until it is in place: no request waits seconds for
a million rows.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.store.mirror.columns import Columns, load_facts, load_segments
from service.store.projection import checkpoints
from service.store.projection.generations import live_storage
from service.store.projection.read_model_writer import LIVE, READ_MODELS

_TOUCHED = text("SELECT DISTINCT subject FROM events WHERE position > :old AND position <= :new")
Stamp = tuple[int, int, int]
"""(position, file node of the live facts partition, file node of the live segments one)."""
_log = logging.getLogger(__name__)


class ReadMirror:
    """The live read models' facts and segments in memory, refreshed on demand."""

    def __init__(self, engine: AsyncEngine | None = None, *, reload_beyond: int = 20_000) -> None:
        self._engine = engine
        self._columns: Columns | None = None
        self._stamp: Stamp | None = None
        self._reload_beyond = reload_beyond
        self._lock = asyncio.Lock()
        self._loading: asyncio.Task[None] | None = None

    @property
    def position(self) -> int | None:
        """The log position the in-memory copy reflects; None before its first load."""
        return self._stamp[0] if self._stamp is not None else None

    @property
    def loading(self) -> bool:
        """Whether a full load is under way in the background."""
        return self._loading is not None and not self._loading.done()

    def warm(self) -> None:
        """Start loading every row in the background (with an engine; otherwise nothing)."""
        if self._engine is not None and (self._loading is None or self._loading.done()):
            self._loading = asyncio.create_task(self._load(self._engine), name="read-mirror")

    async def settled(self) -> None:
        """Wait until no background load is under way."""
        if self._loading is not None:
            await asyncio.gather(asyncio.shield(self._loading), return_exceptions=True)

    async def close(self) -> None:
        """Stop a background load."""
        if self._loading is not None:
            self._loading.cancel()
            await asyncio.gather(self._loading, return_exceptions=True)

    async def _load(self, engine: AsyncEngine) -> None:
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    position = (await checkpoints.load(conn, READ_MODELS)).position
                    stamp = await _stamp(conn, position)
                    columns = await _loaded(conn)
        except Exception:
            _log.exception("loading the read models into memory failed; SQL answers meanwhile")
            return
        async with self._lock:
            current = self._stamp
            if current is None or current[1:] != stamp[1:] or current[0] < stamp[0]:
                self._columns, self._stamp = columns, stamp

    async def columns_at(self, conn: AsyncConnection, position: int) -> Columns | None:
        """Columns equal to the read models of `conn`'s snapshot, whose checkpoint is `position`.

        None when the snapshot is older than the mirror: the caller answers from SQL then.
        """
        wanted = await _stamp(conn, position)
        async with self._lock:
            stamp, columns = self._stamp, self._columns
            if stamp == wanted:
                return columns
            same_tables = stamp is not None and stamp[1:] == wanted[1:]
            if same_tables and stamp is not None and position < stamp[0]:
                return None
            if (
                same_tables
                and columns is not None
                and stamp is not None
                and position - stamp[0] <= self._reload_beyond
            ):
                columns = await _refreshed(conn, columns, stamp[0], position)
            elif self._engine is not None:
                self.warm()
                return None
            else:
                columns = await _loaded(conn)
            self._columns, self._stamp = columns, wanted
            return columns


async def _stamp(conn: AsyncConnection, position: int) -> Stamp:
    facts, segments = await live_storage(conn)
    return (position, facts, segments)


async def _loaded(conn: AsyncConnection) -> Columns:
    """Every row of both tables."""
    facts, deals, reps = await load_facts(conn, LIVE.facts, None, None)
    segments = await load_segments(conn, LIVE.segments, deals, reps, None)
    return Columns(facts, segments, deals, reps)


async def _refreshed(conn: AsyncConnection, columns: Columns, old: int, new: int) -> Columns:
    """`columns` (at position `old`) with the rows of every deal touched up to `new` reloaded."""
    touched = [row[0] for row in await conn.execute(_TOUCHED, {"old": old, "new": new})]
    if not touched:
        return columns
    facts, _, _ = await load_facts(conn, LIVE.facts, columns, touched)
    segments = await load_segments(conn, LIVE.segments, columns.deals, columns.reps, touched)
    return columns.replace_deals(touched, facts, segments)
