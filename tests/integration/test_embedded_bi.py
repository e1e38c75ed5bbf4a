"""BI tools on the embedded database: TCP with the role's password (scram-sha-256), no trust."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from service.embedded import DATABASE_NAME, EmbeddedPostgres, Listen, running_address
from service.runtime import open_database
from service.settings import Settings
from tests.e2e.served import ROOT
from tests.reliability.harness import free_port

pytestmark = [pytest.mark.integration, pytest.mark.private_server]

PASSWORD = "s3cret pass/word?"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="funnel-bi-"))
    path.chmod(0o755)  # the server's own system user (as root) must enter it
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def env(data_dir: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FUNNEL_LOG_LEVEL")}
    listen = f"127.0.0.1:{free_port()}"
    return {**clean, "FUNNEL_DATA_DIR": str(data_dir), "FUNNEL_EMBEDDED_LISTEN": listen}


@pytest.fixture(scope="module")
async def server(data_dir: Path, env: dict[str, str]) -> AsyncIterator[str]:
    """The embedded server, migrated, held open by this process; the superuser's URL."""
    settings = Settings.model_validate({**env, "DATABASE_URL": None})
    async with open_database(settings):
        # A handle of our own keeps it running between the commands that attach to it.
        embedded = EmbeddedPostgres(data_dir, Listen.parse(env["FUNNEL_EMBEDDED_LISTEN"]))
        url = await asyncio.to_thread(embedded.start)
        yield url


def _bi_role(env: dict[str, str], *args: str, stdin: str | None = None) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "service", "bi-role", "create", *args],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def _dsn(url: str, **changes: object) -> str:
    return make_url(url).set(**changes).render_as_string(hide_password=False)  # type: ignore[arg-type]


async def test_the_printed_connection_string_works_over_tcp_with_the_password(server, env):
    # Given a BI role made by the command line with its password given there
    lines = await asyncio.to_thread(_bi_role, env, "--name", "bi_reader", "--password", PASSWORD)
    url = lines[-1]
    listen = Listen.parse(env["FUNNEL_EMBEDDED_LISTEN"])
    parsed = make_url(url)
    assert (parsed.host, parsed.port, parsed.database) == (listen.host, listen.port, DATABASE_NAME)
    assert (parsed.username, parsed.password) == ("bi_reader", PASSWORD)
    # When a BI tool connects with it over TCP, then it reads the reporting views
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM reporting.flow_facts") == 0
        assert await conn.fetchval("SELECT current_setting('password_encryption')") == (
            "scram-sha-256"
        )
    finally:
        await conn.close()
    # And with a wrong password it is refused
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(_dsn(url, password="wrong"))


async def test_nothing_is_trusted_that_need_not_be(server, env):
    await asyncio.to_thread(_bi_role, env, "--name", "bi_other", "--password", PASSWORD)
    listen = Listen.parse(env["FUNNEL_EMBEDDED_LISTEN"])
    tcp = f"postgresql://postgres@{listen.host}:{listen.port}/{DATABASE_NAME}"
    # The superuser never logs in over TCP, even with a password
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        await asyncpg.connect(tcp, password="anything")
    # Over the socket, a role other than the service's own needs its password
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(_dsn(server, username="bi_other", password=None))
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(_dsn(server, username="bi_other", password="wrong"))
    conn = await asyncpg.connect(_dsn(server, username="bi_other", password=PASSWORD))
    await conn.close()
    # The service's own OS user is the superuser over the socket (peer), without a password
    conn = await asyncpg.connect(server)
    try:
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    finally:
        await conn.close()


async def test_a_prompted_password_is_never_printed(server, env, data_dir):
    secret = "typed-at-the-prompt"
    lines = await asyncio.to_thread(
        _bi_role, env, "--name", "bi_prompted", stdin=f"{secret}\n{secret}\n"
    )
    assert all(secret not in line for line in lines), lines
    # Without a terminal the prompts share the last line (no echoed newline)
    printed = lines[-1][lines[-1].index("postgresql://") :]
    assert make_url(printed).password is None
    conn = await asyncpg.connect(_dsn(printed, password=secret))
    await conn.close()
    address = running_address(data_dir)
    assert address is not None
    assert address.host == "127.0.0.1"
