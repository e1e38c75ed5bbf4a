"""An in-memory mirror of the flow facts and deal segments, kept equal to one snapshot's.

A scoreboard or funnel read takes a snapshot whose read models reflect log position P. The
mirror holds the same rows as numpy columns, stamped with the position and the storage of the
live partitions (a rebuild swaps in a freshly loaded one, so it changes). Asked for position P,
it answers with columns equal to that snapshot's tables, loading them in that very snapshot:

- stamped P with the same tables: as it is;
- stamped with an earlier position and the same tables: the rows of the deals with an event
  in between are reloaded and swapped in (a deal's rows depend on its own stream alone);
- a rebuild's new tables that were preloaded before its swap (`preload`): those, refreshed;
- anything else (first use, a rebuild by another process, far behind): every row is reloaded;
- a snapshot older than the mirror: None, and the caller reads SQL.

Given an engine (as the service does), `follow` keeps the copy at the read models' checkpoint in
the background: a full load first, then every `follow_seconds`, once the checkpoint is more than
`follow_beyond` events ahead, the deals touched since are refreshed, however many there are (no
full reload after a bulk load). Requests thus find the copy at or near their snapshot, and a
full reload (which SQL answers meanwhile) only happens when the tables changed under it without
a preload.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.store.mirror.columns import Columns, load_facts, load_segments
from service.store.mirror.heap import give_back_free_memory
from service.store.projection import checkpoints
from service.store.projection.generations import live_storage, storage_of
from service.store.projection.read_model_writer import LIVE, READ_MODELS, Tables

_TOUCHED = text("SELECT DISTINCT subject FROM events WHERE position > :old AND position <= :new")
Stamp = tuple[int, int, int]
"""(position, file node of the live facts partition, file node of the live segments one)."""
_log = logging.getLogger(__name__)
FOLLOW_SECONDS = 0.5
"""How often a following mirror looks at the read models' checkpoint."""
RELOAD_BEYOND = 250_000
"""Events behind a request's snapshot up to which the request brings the copy there itself
(more than one projector round, `projector.WINDOW`); further behind, SQL answers it."""
FOLLOW_BEYOND = 2_000
"""Events behind the checkpoint from which the follower refreshes the copy; smaller gaps are
left to the requests, which refresh it to their own snapshot (a copy moved past a request's
snapshot could not answer it)."""


class ReadMirror:
    """The live read models' facts and segments in memory, refreshed on demand or followed."""

    def __init__(
        self,
        engine: AsyncEngine | None = None,
        *,
        reload_beyond: int = RELOAD_BEYOND,
        follow_seconds: float = FOLLOW_SECONDS,
        follow_beyond: int = FOLLOW_BEYOND,
        dormant: bool = False,
    ) -> None:
        self._engine = engine
        self._dormant = dormant
        self._columns: Columns | None = None
        self._stamp: Stamp | None = None
        self._preloaded: tuple[Stamp, Columns] | None = None
        self._reload_beyond = reload_beyond
        self._follow_seconds = follow_seconds
        self._follow_beyond = follow_beyond
        self._lock = asyncio.Lock()
        self._loading: asyncio.Task[None] | None = None
        self._following: asyncio.Task[None] | None = None
        self._first_load = asyncio.Event()
        self.full_loads = 0
        """Full loads completed: one at start-up; each further one followed a change of tables
        that was not preloaded (SQL answered while it ran)."""

    @property
    def position(self) -> int | None:
        """The log position the in-memory copy reflects; None before its first load."""
        return self._stamp[0] if self._stamp is not None else None

    @property
    def preloaded_storage(self) -> tuple[int, int] | None:
        """The file nodes (facts, segments) of the rebuilt tables preloaded, if any."""
        preloaded = self._preloaded
        return preloaded[0][1:] if preloaded is not None else None

    @property
    def loading(self) -> bool:
        """Whether a full load is under way in the background."""
        return self._loading is not None and not self._loading.done()

    @property
    def dormant(self) -> bool:
        """Whether this copy is kept by another process (it loads nothing until it `follow`s)."""
        return self._dormant

    @property
    def first_load_ended(self) -> bool:
        """Whether the first full load has ended, loaded or failed (a dormant copy has none)."""
        return self._dormant or self._first_load.is_set()

    @property
    def warm(self) -> bool:
        """Whether the copy has loaded once and no full reload is under way: reads are served
        from memory, not SQL."""
        return self._stamp is not None and not self.loading

    def start_load(self) -> None:
        """Start loading every row in the background (with an engine; otherwise nothing)."""
        if self._engine is not None and (self._loading is None or self._loading.done()):
            self._loading = asyncio.create_task(self._load(self._engine), name="read-mirror")

    def follow(self) -> None:
        """Load every row in the background, then keep following the read models' checkpoint
        (a dormant copy wakes up)."""
        self._dormant = False
        if self._engine is not None and self._following is None:
            self._following = asyncio.create_task(self._follow(self._engine), name="mirror-follow")

    async def loaded_once(self) -> None:
        """Wait until the first full load has ended (loaded or failed)."""
        await self._first_load.wait()

    async def settled(self) -> None:
        """Wait until no background load is under way."""
        if self._loading is not None:
            await asyncio.gather(asyncio.shield(self._loading), return_exceptions=True)

    async def close(self) -> None:
        """Stop following and any background load."""
        for task in (self._following, self._loading):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._following = None

    async def preload(self, engine: AsyncEngine, tables: Tables, position: int) -> None:
        """Load a rebuild's fresh `tables` (complete up to `position`) before they are swapped in.

        Kept beside the current copy, which goes on answering for the live tables; the first
        snapshot that sees the new tables takes it (refreshed past `position`), so a rebuild
        leaves no stretch of SQL answers behind. A failure only loses the preload. A dormant
        copy preloads nothing: the process holding the copy does.
        """
        if self._dormant:
            return
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    facts, segments = await storage_of(conn, tables)
                    columns = await _loaded(conn, tables)
        except Exception:
            _log.exception("preloading the rebuilt read models failed; a full load will follow")
            return
        async with self._lock:
            self._preloaded = ((position, facts, segments), columns)

    async def _load(self, engine: AsyncEngine) -> None:
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    position = (await checkpoints.load(conn, READ_MODELS)).position
                    stamp = await _stamp(conn, position)
                    columns = await _loaded(conn, LIVE)
        except Exception:
            _log.exception("loading the read models into memory failed; SQL answers meanwhile")
            return
        finally:
            self._first_load.set()
        async with self._lock:
            self.full_loads += 1
            current = self._stamp
            if current is None or current[1:] != stamp[1:] or current[0] < stamp[0]:
                self._columns, self._stamp = columns, stamp

    async def _follow(self, engine: AsyncEngine) -> None:
        """Bring the copy to the checkpoint every `follow_seconds`, until cancelled."""
        self.start_load()
        while True:
            await self.settled()
            await asyncio.sleep(self._follow_seconds)
            try:
                async with engine.connect() as conn:
                    await conn.execution_options(isolation_level="REPEATABLE READ")
                    async with conn.begin():
                        position = (await checkpoints.load(conn, READ_MODELS)).position
                        await self._bring_to(conn, position)
            except Exception:
                _log.exception("following the read models failed; retrying")

    async def columns_at(self, conn: AsyncConnection, position: int) -> Columns | None:
        """Columns equal to the read models of `conn`'s snapshot, whose checkpoint is `position`.

        None when the snapshot is older than the mirror, or a full load is needed (and started
        in the background), or the copy is dormant: the caller answers from SQL then.
        """
        if self._dormant:
            return None
        wanted = await _stamp(conn, position)
        async with self._lock:
            stamp, columns = self._current(wanted)
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
                # A following copy gets there by refreshing (SQL answers this request); a full
                # load is for a copy with other tables, or none.
                if not (same_tables and self._following is not None):
                    self.start_load()
                return None
            else:
                columns = await _loaded(conn, LIVE)
            self._columns, self._stamp = columns, wanted
            return columns

    async def _bring_to(self, conn: AsyncConnection, position: int) -> None:
        """The follower's step: the copy refreshed to `conn`'s snapshot (at `position`).

        However far behind it is, only the deals touched since are reloaded, under the copy's
        lock: a request that comes meanwhile waits for the copy rather than asking SQL, and
        finds it at its own snapshot unless the projector has moved on since.
        """
        wanted = await _stamp(conn, position)
        async with self._lock:
            stamp, columns = self._current(wanted)
            if stamp == wanted:
                return
            if stamp is None or columns is None or stamp[1:] != wanted[1:]:
                self.start_load()
                return
            if position - stamp[0] <= self._follow_beyond:
                return  # (a request has moved the copy past this snapshot, or will get there)
            self._columns = await _refreshed(conn, columns, stamp[0], position)
            self._stamp = wanted

    def _current(self, wanted: Stamp) -> tuple[Stamp | None, Columns | None]:
        """The copy to serve `wanted` from: a preload of its tables becomes the copy (locked)."""
        preloaded = self._preloaded
        if preloaded is not None and preloaded[0][1:] == wanted[1:] and self._stamp != wanted:
            (self._stamp, self._columns), self._preloaded = preloaded, None
        return self._stamp, self._columns


async def _stamp(conn: AsyncConnection, position: int) -> Stamp:
    facts, segments = await live_storage(conn)
    return (position, facts, segments)


async def _loaded(conn: AsyncConnection, tables: Tables) -> Columns:
    """Every row of both tables, in order; the memory the load freed given back."""
    facts, deals, reps = await load_facts(conn, tables.facts, None, None)
    segments = await load_segments(conn, tables.segments, deals, reps, None)
    columns = Columns(facts, segments, deals, reps)
    del facts, segments  # the unordered columns go before the trim
    columns = columns.in_order()
    give_back_free_memory()
    return columns


async def _refreshed(conn: AsyncConnection, columns: Columns, old: int, new: int) -> Columns:
    """`columns` (at position `old`) with the rows of every deal touched up to `new` reloaded."""
    touched = [row[0] for row in await conn.execute(_TOUCHED, {"old": old, "new": new})]
    if not touched:
        return columns
    facts, _, _ = await load_facts(conn, LIVE.facts, columns, touched)
    segments = await load_segments(conn, LIVE.segments, columns.deals, columns.reps, touched)
    return columns.replace_deals(touched, facts, segments)
