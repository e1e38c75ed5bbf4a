"""Bounded waits keep every cancellation: a stopped task stops (service.waiting)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

from service.waiting import within


async def _stops_when_cancelled_as_it_wakes(wait: Callable[[asyncio.Event], Awaitable[object]]):
    """Whether a loop of bounded waits stops when cancelled in the instant it is woken."""
    event = asyncio.Event()

    async def worker() -> None:
        while True:
            await wait(event)
            event.clear()

    task = asyncio.create_task(worker())
    await asyncio.sleep(0.01)
    # The wake-up and the cancellation land in the same turn of the loop, as a stop during a
    # burst of appends does.
    event.set()
    task.cancel()
    await asyncio.wait({task}, timeout=0.5)
    stopped = task.done()
    while not task.done():  # leave nothing running behind the test
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    return stopped


async def test_a_cancellation_that_arrives_as_the_wait_ends_is_kept():
    assert await _stops_when_cancelled_as_it_wakes(lambda event: within(10, event.wait()))


async def test_the_standard_library_wait_this_replaces_loses_it():
    # Python 3.11's asyncio.wait_for returns normally here: the reason `within` exists.
    async def wait_for(event: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(event.wait(), 10)
        except TimeoutError:
            return

    stopped = await _stops_when_cancelled_as_it_wakes(wait_for)

    assert stopped is (sys.version_info >= (3, 12))


async def test_within_says_whether_it_finished_in_time():
    assert await within(1, asyncio.sleep(0)) is True
    assert await within(0.01, asyncio.Event().wait()) is False


async def test_stop_ends_a_projector_whose_first_cancellation_was_lost():
    from service.store.projection.projector import Projector

    # Given a projector task that loses the first cancellation (as wait_for could)
    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await asyncio.Event().wait()

    projector = Projector(None, batch_size=1, poll_seconds=1)  # type: ignore[arg-type]
    task = asyncio.create_task(stubborn())
    projector._task = task
    await asyncio.sleep(0)
    # When it is stopped (with no deadline of its own, as a shutdown does)
    stopping = asyncio.create_task(projector.stop())
    await asyncio.wait({stopping}, timeout=5)
    stopped = stopping.done() and task.done()
    for leftover in (stopping, task):  # leave nothing running behind the test
        leftover.cancel()
    await asyncio.wait({stopping, task}, timeout=1)
    # Then it stops all the same, and promptly
    assert stopped
