"""The README's example, run with bash and curl against a real `funnel-ledger serve` process."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"```bash\n(# example.*?)```", text, re.DOTALL)
    assert match, "the README lost its runnable example"
    return match.group(1)


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[tuple[str, str]]:
    """A real server process on a fresh database; yields (base URL, first admin key)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "serve",
        "--port",
        str(port),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        key = line.decode().strip()
        assert key.startswith("fl_"), key
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield base, key
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def test_readme_example_runs_against_a_real_server(server):
    base, key = server
    result = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-c", readme_example()],
        env={**os.environ, "FUNNEL_URL": base, "FUNNEL_KEY": key},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert '"status":"created"' in lines[0]
    assert '"position":1' in lines[1]
    assert '"key":"R-07","closed_deals":1' in lines[2]
    assert '"closed_value":{"TWD":"125000.00"}' in lines[2]
    assert '"stage":"opportunity"' in lines[3]
