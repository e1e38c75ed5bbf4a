"""Real service processes for fault tests: start, SIGKILL, restart, and watch them on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import httpx

from service.keys.api_keys import KeyStore, Scope
from service.store.database.engines import create_engine

ROOT = Path(__file__).resolve().parents[2]
QUIET = {"FUNNEL_LOG_LEVEL": "WARNING", "FUNNEL_LOG_FORMAT": "text"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


async def issue_token(database_url: str, scopes: Iterable[Scope]) -> str:
    """A new API key with `scopes`, written straight into the store."""
    engine = create_engine(database_url, pool_size=1)
    try:
        issued = await KeyStore(engine).create("reliability", frozenset(scopes))
    finally:
        await engine.dispose()
    return issued.token


class ServiceProcess:
    """One `python -m uvicorn service.api.main:app` process on a port of 127.0.0.1."""

    def __init__(self, env: Mapping[str, str], log: Path, port: int | None = None) -> None:
        self.env = {**os.environ, **QUIET, **env}
        self.log = log
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        """The service's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self.process is not None
        return self.process.pid

    async def start(self, within: float = 60) -> None:
        """Start the process and wait until it answers `/healthz`."""
        args = ["-m", "uvicorn", "service.api.main:app", "--host", "127.0.0.1"]
        args += ["--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                [sys.executable, *args],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        await self._wait_healthy(within)

    async def _wait_healthy(self, within: float) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"service exited: {self.log.read_text()[-3000:]}")
                try:
                    if (await http.get(f"{self.base}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"service not healthy in {within} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a crash."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)

    def rss_bytes(self) -> int:
        """The process's resident memory now."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for the service process")
