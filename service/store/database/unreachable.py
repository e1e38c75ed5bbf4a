"""Telling "the database cannot be reached right now" apart from every other database error.

A restart, a failover or a network cut shows up as one of many driver errors: a refused or
reset socket, a connection that vanished mid-query, an administrator's shutdown, a server still
starting. They all mean the same to a client: nothing is wrong with the request, retry shortly.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

DATABASE_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
"""The exception types under which an outage can surface (each still needs classifying)."""

_SQLSTATES = (
    "08",  # connection exception: does not exist, failure, rejected, unable to connect
    "57P01",  # admin shutdown: terminating connection due to administrator command
    "57P02",  # crash shutdown
    "57P03",  # cannot connect now: the server is starting up or shutting down
    "53300",  # too many connections
)
_SOCKET_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ENOENT,  # the server's Unix socket is gone while it is down
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)
_UNAVAILABLE_TYPES = (
    OperationalError,
    InterfaceError,
    asyncpg.InterfaceError,
    # The driver's protocol was left mid-exchange by a server that went away (an error sent
    # as the server shut down, with no end of it): that connection is finished.
    asyncpg.InternalClientError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or an error that caused it, means the database is unreachable for now."""
    return any(_unavailable(error) for error in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        orig = getattr(error, "orig", None)
        pending += [error.__cause__, orig if isinstance(orig, BaseException) else None]


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, _UNAVAILABLE_TYPES):
        return True
    if isinstance(error, OSError) and error.filename is None:
        # A socket's error (a file's names its file). asyncio reports a connection refused by
        # every address of a host as a bare OSError; a missing Unix socket is ENOENT.
        return error.errno in _SOCKET_ERRNOS or type(error) is OSError
    state = getattr(error, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_SQLSTATES)
