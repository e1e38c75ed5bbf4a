"""Several workers, one in-memory copy: a worker that does not hold it forwards its reads to the
worker that does, appends events itself, answers from SQL while no holder answers, and takes the
copy over once the holder is gone."""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.api.app import create_app
from service.api.read_forwarding import FORWARDED, ReadForwarding, _request_headers
from service.keys.api_keys import Scope
from service.store.projection.preload_notices import LISTENER_NAME
from tests.conftest import bearer, make_settings
from tests.e2e.served import serve
from tests.factories import signed, sourced

pytestmark = pytest.mark.e2e

Q1 = {"period": "2026-Q1"}


@pytest.fixture
def holder_dir() -> Iterator[Path]:
    # Short: a Unix socket's path has a limit of about a hundred bytes.
    directory = Path(tempfile.mkdtemp(prefix="fl-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def worker(database_url: str, holder_dir: Path) -> AsyncIterator[FastAPI]:
    """One worker of a `serve --workers N`: the application with its lifespan running."""
    app = create_app(make_settings(database_url, FUNNEL_READ_HOLDER_DIR=str(holder_dir)))
    async with app.router.lifespan_context(app):
        yield app


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def eventually(check: Callable[[], object], seconds: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def test_reads_go_to_the_worker_holding_the_copy(database_url: str, holder_dir: Path) -> None:
    async with AsyncExitStack() as others:
        # Given two workers of one service, the first holding the in-memory copy
        holding = AsyncExitStack()
        first = await holding.enter_async_context(worker(database_url, holder_dir))
        second = await others.enter_async_context(worker(database_url, holder_dir))
        assert first.state.services.read_holder.here
        assert not second.state.services.read_holder.here
        await eventually((holder_dir / "reads.sock").exists)
        assert (holder_dir / "reads.sock").stat().st_mode & 0o777 == 0o600
        keys = first.state.services.keys
        token = (await keys.create("w", frozenset({Scope.ADMIN}))).token
        via_first, via_second = client_of(first), client_of(second)
        others.push_async_callback(via_first.aclose)
        others.push_async_callback(via_second.aclose)
        headers = bearer(token)

        # When events are sent through the second worker
        for raw in (
            sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
            signed("D-1", "R-1", "2026-02-01T09:00:00Z"),
        ):
            sent = await via_second.post("/v1/events", json=raw, headers=headers)
            assert sent.status_code in (200, 201, 202), sent.text
        # Then it appended them itself, and its reads are the holder's answers, from its copy
        ready = await via_second.get("/readyz", headers=headers)
        assert ready.json()["read_mirror"]["warm"] is True
        assert ready.json()["read_mirror"]["full_loads"] == 1
        board = await via_second.get("/v1/scoreboard", params=Q1, headers=headers)
        assert board.status_code == 200, board.text
        direct = await via_first.get("/v1/scoreboard", params=Q1, headers=headers)
        assert {**board.json(), "known_at": None} == {**direct.json(), "known_at": None}
        assert board.json()["totals"]["closed_deals"] == 1
        assert board.headers["content-type"] == direct.headers["content-type"]
        csv = await via_second.get("/v1/scoreboard.csv", params=Q1, headers=headers)
        assert (
            csv.status_code == 200
            and csv.text.splitlines()[0]
            == (
                await via_first.get("/v1/scoreboard.csv", params=Q1, headers=headers)
            ).text.splitlines()[0]
        )
        # And a read sent with a body is answered, and so is the next on the same connections
        for _ in range(2):
            odd = await via_second.request(
                "GET", "/v1/scoreboard", params=Q1, headers=headers, content=b"x" * 100
            )
            assert odd.status_code == 200
        # And a live stream relayed from the holder ends as soon as its client goes
        await _stream_ends_with_its_client(holder_dir / "reads.sock", token)
        # And a bad key is refused by the holder as it would be here
        refused = await via_second.get("/v1/scoreboard", params=Q1, headers=bearer("fl_x_y"))
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        # And a rebuild started through the second worker is preloaded by the holder alone
        started = await via_second.post("/v1/admin/rebuild", headers=headers)
        assert started.status_code == 202, started.text
        await second.state.services.rebuilds.state.task
        assert second.state.services.rebuilds.state.status == "done"
        ready = await via_second.get("/readyz", headers=headers)
        assert (ready.json()["read_mirror"]["full_loads"], ready.json()["warm"]) == (1, True)
        # And the second worker never loaded a copy of its own, nor a rebuild's
        assert second.state.services.mirror.dormant
        assert second.state.services.mirror.full_loads == 0
        assert second.state.services.mirror.preloaded_storage is None
        # Its own liveness is its own
        assert (await via_second.get("/healthz")).json() == {"status": "ok"}

        # When the holder stops
        await holding.aclose()
        # Then the second worker still answers reads (from SQL, then from the copy it takes over)
        board = await via_second.get("/v1/scoreboard", params=Q1, headers=headers)
        assert board.status_code == 200
        assert board.json()["totals"]["closed_deals"] == 1
        services = second.state.services
        await eventually(lambda: services.read_holder.here and services.mirror.warm)
        assert services.mirror.full_loads == 1
        await eventually((holder_dir / "reads.sock").exists)


async def _stream_ends_with_its_client(socket: Path, token: str) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v1/events/stream",
        "raw_path": b"/v1/events/stream",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
    }
    started = asyncio.Event()
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        if not sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)
        if message["type"] == "http.response.start":
            started.set()

    relayed = await asyncio.wait_for(
        ReadForwarding(app=None)._forwarded(socket, scope, receive, send),  # type: ignore[arg-type]
        10,
    )
    assert relayed
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200


async def test_a_worker_starts_serving_once_reads_are_answered_from_memory(
    database_url: str, holder_dir: Path
) -> None:
    # Given a holder that has taken the lock and is still loading (no socket yet)
    lock = os.open(holder_dir / "holder.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    stop = asyncio.Event()
    workers: list[_Started] = []
    try:
        # When a worker starts, it does not serve yet
        forwarding = _Started(database_url, holder_dir, stop)
        workers.append(forwarding)
        await asyncio.sleep(0.5)
        assert not forwarding.ready.is_set()
        # Then it serves once the holder's socket is open, forwarding its reads
        (holder_dir / "reads.sock").touch()
        await asyncio.wait_for(forwarding.ready.wait(), 10)
        assert forwarding.app.state.services.mirror.dormant
        # And a worker starting while the copy has no holder takes it, and serves once loaded
        (holder_dir / "reads.sock").unlink()
        fcntl.flock(lock, fcntl.LOCK_UN)
        holding = _Started(database_url, holder_dir, stop)
        workers.append(holding)
        await asyncio.wait_for(holding.ready.wait(), 20)
        services = holding.app.state.services
        assert services.read_holder.here
        assert (services.mirror.dormant, services.mirror.full_loads) == (False, 1)
    finally:
        stop.set()
        os.close(lock)
        for started in workers:
            await started.task


class _Started:
    """A worker whose start-up runs in the background: `ready` once it serves, until `stop`."""

    def __init__(self, database_url: str, holder_dir: Path, stop: asyncio.Event) -> None:
        self.ready = asyncio.Event()
        self.app = create_app(make_settings(database_url, FUNNEL_READ_HOLDER_DIR=str(holder_dir)))
        self.task = asyncio.create_task(self._run(stop))

    async def _run(self, stop: asyncio.Event) -> None:
        async with self.app.router.lifespan_context(self.app):
            self.ready.set()
            await stop.wait()


def test_a_client_cannot_pass_its_own_forwarded_headers_to_the_holder() -> None:
    scope = {
        "headers": [
            (b"host", b"ledger.example"),
            (b"x-forwarded-for", b"10.9.9.9"),
            (b"forwarded", b"for=10.9.9.9"),
            (b"x-forwarded-proto", b"https"),
            (b"connection", b"keep-alive"),
            (b"content-length", b"100"),
            (b"transfer-encoding", b"chunked"),
            (b"authorization", b"Bearer k"),
        ],
        "client": ("192.0.2.7", 5555),
        "scheme": "http",
    }
    headers = _request_headers(scope)
    assert [h for h in headers if h[0] in FORWARDED] == [
        (b"x-forwarded-for", b"192.0.2.7"),
        (b"x-forwarded-proto", b"http"),
    ]
    assert {name for name, _ in headers} == {
        b"host",
        b"authorization",
        b"x-forwarded-for",
        b"x-forwarded-proto",
    }
    assert (b"authorization", b"Bearer k") in headers and (b"host", b"ledger.example") in headers


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _holding_lock(pid: int) -> bool:
    """Whether process `pid` has the holder's lock file open (only the holder keeps it)."""
    try:
        targets = [link.readlink().name for link in Path(f"/proc/{pid}/fd").iterdir()]
    except (FileNotFoundError, PermissionError):
        return False
    return "holder.lock" in targets


async def _listeners(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", LISTENER_NAME
        )
        return int(count)
    finally:
        await connection.close()


async def test_serve_with_two_workers_keeps_one_copy_and_survives_its_holder(
    database_url: str,
) -> None:
    # Given `serve --workers 2`
    secret = {"FUNNEL_SESSION_SECRET": "s" * 40}
    async with (
        serve(database_url, "--workers", "2", env=secret) as served,
        httpx.AsyncClient(base_url=served.base, headers=bearer(served.admin_key)) as http,
    ):
        # Then one worker holds the copy: it alone listens for rebuilds
        await eventually(lambda: len(_children(served.pid)) >= 2)
        await _eventually_async(lambda: _listeners(database_url), 1)
        holders = [pid for pid in _children(served.pid) if _holding_lock(pid)]
        assert len(holders) == 1
        # And every read is answered from that copy, whichever worker takes it
        for _ in range(20):
            ready = await http.get("/readyz")
            mirror = ready.json()["read_mirror"]
            assert (mirror["warm"], mirror["full_loads"]) == (True, 1)
            for own in ("date", "server"):  # set once, by the worker the client reached
                assert len(ready.headers.get_list(own)) == 1
        # When the holder is killed
        os.kill(holders[0], signal.SIGKILL)
        # Then reads go on being answered, and another worker takes the copy over
        await eventually(
            lambda: [p for p in _children(served.pid) if _holding_lock(p)] not in ([], holders),
            60,
        )
        await _eventually_async(lambda: _listeners(database_url), 1)
        board = await http.get("/v1/scoreboard", params=Q1)
        assert board.status_code == 200, board.text
        mirror = (await http.get("/readyz")).json()["read_mirror"]
        assert mirror["warm"] is True


async def _eventually_async(
    value: Callable[[], Awaitable[int]], expected: int, seconds: float = 30.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (got := await value()) != expected:
        assert loop.time() < deadline, f"{got} != {expected}"
        await asyncio.sleep(0.1)
