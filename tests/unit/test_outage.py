"""Which errors mean "the database is unreachable now" (503) and which are bugs (500)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from service.store.database.unreachable import is_database_unavailable


def _wrapped(error: BaseException) -> Exception:
    """An error as SQLAlchemy raises it: a DBAPIError raised from the driver's error."""
    wrapper = DBAPIError("SELECT 1", None, Exception("driver"))
    wrapper.__cause__ = error
    return wrapper


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        ConnectionResetError(104, "reset by peer"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        FileNotFoundError(2, "No such file or directory"),
        TimeoutError(),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
        OperationalError("SELECT 1", None, Exception("gone")),
        InterfaceError("SELECT 1", None, Exception("closed")),
        DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True),
        _wrapped(asyncpg.exceptions.CrashShutdownError("crash")),
    ],
)
def test_connection_level_errors_mean_unavailable(error: BaseException) -> None:
    assert is_database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        FileNotFoundError(2, "No such file or directory", "/etc/funnel/webhooks.yaml"),
        IntegrityError("INSERT", None, Exception("duplicate key")),
        _wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        _wrapped(asyncpg.exceptions.UndefinedTableError("no such table")),
    ],
)
def test_other_errors_are_not_outages(error: BaseException) -> None:
    assert not is_database_unavailable(error)
