"""Fixtures of the reliability tests: a private PostgreSQL server that a test may stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.reliability.postgres import PrivatePostgres


@pytest.fixture
async def private_pg() -> AsyncIterator[PrivatePostgres]:
    """A running PostgreSQL server of this test alone, on 127.0.0.1."""
    server = await asyncio.to_thread(PrivatePostgres.create)
    try:
        await asyncio.to_thread(server.start)
        yield server
    finally:
        try:
            await asyncio.to_thread(server.close)
        finally:
            server.remove()
