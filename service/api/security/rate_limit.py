"""A per-key rate limit: one token bucket per API key, in this process's memory."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from service.api.http.problems import Problem
from service.settings import Settings


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Admits `burst` requests at once per key, refilled at `rate` per second."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limiter the settings ask for."""
        return cls(settings.rate_limit_per_second, settings.rate_limit_burst)

    def take(self, key: str) -> float:
        """Spend one token of `key`: 0 if admitted, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(float(self._burst), now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate


def enforce_rate_limit(request: Request, key_id: str) -> None:
    """Refuse the request with 429 and `Retry-After` when the key has spent its budget."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(key_id)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise Problem(
            429,
            "rate-limited",
            f"this key sent too many requests; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
            retry_after_seconds=seconds,
        )
