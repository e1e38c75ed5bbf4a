"""The README's first hour, from a clean directory: `serve` on its own embedded PostgreSQL,
the admin key as the last line of the first start's output, then the key at work."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from service.web.view import shortcut_of
from tests.conftest import bearer
from tests.e2e.served import ROOT
from tests.reliability.harness import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.private_server]

KEY = re.compile(r"fl_[0-9a-f]+_[0-9a-f]+")


@pytest.fixture
def clean_directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="funnel-first-hour-"))
    path.chmod(0o755)  # the embedded server's own system user (as root) must enter it
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Output:
    """Everything a process writes to its terminal (stdout and stderr), line by line."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: list[str] = []
        self._task = asyncio.ensure_future(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode().rstrip("\n"))


@asynccontextmanager
async def started(directory: Path) -> AsyncIterator[tuple[str, Output]]:
    """`funnel-ledger serve` (what `./run.sh` runs) in `directory`, once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "FUNNEL_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "serve",
        "--port",
        str(port),
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = Output(process.stdout)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(1200):
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("serve never answered:\n" + "\n".join(output.lines))
        await asyncio.sleep(1)  # whatever it prints once up has been printed
        yield base, output
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)


def test_run_sh_serves_what_this_test_starts():
    script = (ROOT / "run.sh").read_text()
    assert 'exec .venv/bin/funnel-ledger serve "$@"' in script
    assert "tools/install.sh runtime" in script
    installer = (ROOT / "tools" / "install.sh").read_text()
    # A second start installs nothing: the installed set is stamped and compared first
    assert 'if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then\n    exit 0' in installer


async def test_the_first_hour_from_a_clean_directory(clean_directory):
    # Given a directory with nothing in it, when the service starts there for the first time
    async with started(clean_directory) as (base, output):
        lines = [line for line in output.lines if line.strip()]
        # Then the admin key is the last line of its output, and the only one holding a key
        assert KEY.fullmatch(lines[-1].strip()), lines[-5:]
        assert [line for line in lines if KEY.search(line)] == [lines[-1]]
        key = lines[-1].strip()
        assert (clean_directory / ".funnel-ledger" / "pgdata" / "PG_VERSION").exists()
        async with httpx.AsyncClient(base_url=base) as http:
            # And the key works at once
            board = await http.get("/v1/scoreboard?period=2026-Q1", headers=bearer(key))
            assert board.status_code == 200
            # And it signs in to the dashboard, which opens on the current quarter
            signed_in = await http.post(
                "/login", data={"key": key, "next": "/"}, headers={"Origin": base}
            )
            assert signed_in.status_code == 303
            page = await http.get("/")
            quarter = shortcut_of("quarter", datetime.now(UTC).date())
            assert f'id="period-title">{quarter}<' in page.text
        # No warning on a clean start
        assert not [line for line in lines if "warning" in line.lower()], lines
    # When it starts again, it prints no key (the first one is still the admin's)
    async with started(clean_directory) as (_base, again):
        assert not [line for line in again.lines if KEY.search(line)]
