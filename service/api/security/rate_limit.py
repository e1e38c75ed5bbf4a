"""A per-key rate limit: one token bucket per API key, in this process's memory."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from service.api.http.problems import Problem
from service.settings import Settings

CAPACITY = 100_000
"""Keys remembered at most; past it, those whose bucket has refilled are forgotten first."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Admits `burst` requests at once per key, refilled at `rate` per second.

    At most `capacity` keys are remembered, so that keys an attacker makes up (client
    addresses, say) cannot grow it without bound.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = CAPACITY,
    ) -> None:
        self._rate, self._burst, self._clock, self._capacity = rate, burst, clock, capacity
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limiter the settings ask for."""
        return cls(settings.rate_limit_per_second, settings.rate_limit_burst)

    def _refilled(self, key: str) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            now = self._clock()
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
        return bucket

    def wait(self, key: str) -> float:
        """Seconds until `key` may spend a token (0: it may now); spends nothing."""
        bucket = self._refilled(key)
        return 0.0 if bucket is None or bucket.tokens >= 1 else (1 - bucket.tokens) / self._rate

    def take(self, key: str) -> float:
        """Spend one token of `key`: 0 if admitted, else the seconds until one is available."""
        bucket = self._refilled(key)
        if bucket is None:
            self._make_room()
            bucket = self._buckets[key] = _Bucket(float(self._burst), self._clock())
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def _make_room(self) -> None:
        if len(self._buckets) < self._capacity:
            return
        now = self._clock()
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self._rate >= self._burst:
                del self._buckets[key]
        if len(self._buckets) >= self._capacity:
            # Still full of keys spending right now: forget the oldest half rather than grow.
            for key in list(self._buckets)[: len(self._buckets) - self._capacity // 2]:
                del self._buckets[key]


def too_many(slug: str, reason: str, wait: float) -> Problem:
    """The 429 problem for `reason`, with the whole seconds to wait (at least 1)."""
    seconds = max(1, math.ceil(wait))
    return Problem(
        429,
        slug,
        f"{reason}; retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
        retry_after_seconds=seconds,
    )


def enforce_rate_limit(request: Request, key_id: str) -> None:
    """Refuse the request with 429 and `Retry-After` when the key has spent its budget."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(key_id)
    if wait > 0:
        raise too_many("rate-limited", "this key sent too many requests", wait)
