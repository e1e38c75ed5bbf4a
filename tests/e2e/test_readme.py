"""The README's example, run with bash and curl against a real `funnel-ledger serve` process."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator

import pytest

from tests.e2e.served import ROOT, Served, serve

pytestmark = pytest.mark.e2e


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"```bash\n(# example.*?)```", text, re.DOTALL)
    assert match, "the README lost its runnable example"
    return match.group(1)


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[Served]:
    """A real server process on a fresh database."""
    async with serve(database_url) as served:
        yield served


async def test_readme_example_runs_against_a_real_server(server: Served) -> None:
    base, key = server.base, server.admin_key
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
    assert '"key":"R-07","rep_name":null,"closed_deals":1' in lines[2]
    assert '"closed_value":{"TWD":"125000.00"}' in lines[2]
    assert '"stage":"opportunity"' in lines[3]
