"""The real `python -m service serve` command as a process on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.reliability.harness import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Served:
    """A running `serve` process: its base URL, the admin key it printed, and its environment."""

    base: str
    admin_key: str
    env: dict[str, str]
    pid: int


@asynccontextmanager
async def serve(
    database_url: str, *options: str, env: dict[str, str] | None = None
) -> AsyncIterator[Served]:
    """`serve` on `database_url` (with `options` and more `env`), once it answers `/healthz`;
    terminated on exit.

    On an empty database `serve` prints the first admin key as its first line of output.
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "serve",
        "--port",
        str(port),
        *options,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        key = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        assert key.startswith("fl_"), key
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            for _ in range(400):
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"serve did not answer /healthz at {base}")
        yield Served(base, key, env, process.pid)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
