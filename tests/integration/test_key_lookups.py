"""Key lookups: a burst of requests with one key costs one query, and each secret is checked."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.keys.api_keys import ApiKey, KeyStore, Scope

Remembered = tuple[float, bytes, ApiKey]

pytestmark = pytest.mark.integration


async def test_a_burst_of_requests_shares_one_lookup(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a key, and a store that has not seen it yet
    issued = await KeyStore(engine).create("burst", frozenset({Scope.READ}))
    store = KeyStore(engine)
    fetches = 0
    fetch = store._fetch

    async def counting(key_id: str, secret: str, now: datetime) -> Remembered | None:
        nonlocal fetches
        fetches += 1
        return await fetch(key_id, secret, now)

    monkeypatch.setattr(store, "_fetch", counting)
    # When sixteen requests authenticate at once, one of them with a wrong secret
    wrong = issued.token[:-1] + ("0" if issued.token[-1] != "0" else "1")
    answers = await asyncio.gather(
        *(store.authenticate(issued.token) for _ in range(15)), store.authenticate(wrong)
    )
    # Then the database was asked once, and only the right secret was admitted
    assert fetches == 1
    assert [answer.key_id if answer else None for answer in answers] == [issued.key.key_id] * 15 + [
        None
    ]
