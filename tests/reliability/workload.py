"""The load of the fault tests: an endless, valid sales history, and a client that never gives up.

Each writer has its own deals, so its batches may arrive in any order relative to other
writers'. The client re-sends a batch unchanged (same ids) after a connection error or a 5xx
until it is acknowledged: exactly the retry a careful CRM integration does.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import ce
from tests.reliability.harness import bearer

QUARTER = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
REPS = tuple(f"R-{n}" for n in range(1, 7))
TEAMS = ("North", "South")
CE_BATCH = {"Content-Type": "application/cloudevents-batch+json"}
Event = dict[str, Any]
Key = tuple[str, str]


def team_events(prefix: str) -> list[Event]:
    """Every rep joins a team at the start of the quarter."""
    start = QUARTER[0].isoformat()
    return [
        ce(
            "rep.team_assigned",
            f"rep:{rep}",
            start,
            {"team_id": TEAMS[n % 2]},
            id=f"{prefix}-{rep}",
        )
        for n, rep in enumerate(REPS)
    ]


def _deal(rng: random.Random, prefix: str, number: int) -> list[Event]:
    deal, rep = f"{prefix}-D{number}", rng.choice(REPS)
    when = QUARTER[0] + timedelta(minutes=rng.randrange(80 * 24 * 60))
    steps: list[tuple[str, dict[str, Any]]] = [
        ("lead.sourced", {"account": {"name": f"Account {deal}"}, "channel": "web"}),
        ("visit.completed", {"kind": "FSI"}),
    ]
    amount = {"amount": f"{rng.randrange(1, 500) * 1000}.00", "currency": "TWD"}
    if rng.random() < 0.7:
        steps += [("deal.qualified", amount), ("visit.completed", {"kind": "FUA"})]
        if rng.random() < 0.5:
            steps += [("deal.eb_committed", {"eb": {"name": "Ms. Chen"}})]
            steps += [("deal.committee_approved", {})]
            if rng.random() < 0.6:
                steps += [("deal.contract_signed", {**amount, "contract_id": f"C-{deal}"})]
        elif rng.random() < 0.3:
            steps += [("deal.lost", {"reason": "price"})]
    events = []
    for n, (kind, data) in enumerate(steps):
        when += timedelta(hours=rng.randrange(1, 72))
        events.append(ce(kind, deal, when.isoformat(), {"rep_id": rep, **data}, id=f"{deal}-{n}"))
    return events


def batches(prefix: str, size: int, seed: int = 7) -> Iterator[list[Event]]:
    """An endless history in batches of about `size`: teams first, then deal after deal."""
    rng = random.Random(f"{prefix}/{seed}")
    yield team_events(prefix)
    pending: list[Event] = []
    for number in itertools.count(1):
        pending += _deal(rng, prefix, number)
        if len(pending) >= size:
            yield pending
            pending = []


@dataclass(slots=True)
class Writer:
    """Posts batches until each is acknowledged, re-sending the very same events after a failure."""

    http: httpx.AsyncClient
    base: str
    token: str
    acknowledged: dict[Key, int] = field(default_factory=dict)
    sent: set[Key] = field(default_factory=set)
    retries: Counter[str] = field(default_factory=Counter)
    failures: list[httpx.Response] = field(default_factory=list)

    async def send(self, batch: list[Event], within: float = 90) -> None:
        """Post one batch until it is acknowledged (`200` or `201`)."""
        self.sent.update((e["source"], e["id"]) for e in batch)
        deadline = time.monotonic() + within
        delay = 0.02
        while True:
            assert time.monotonic() < deadline, f"batch not acknowledged in {within} s"
            try:
                response = await self.http.post(
                    f"{self.base}/v1/events", json=batch, headers={**bearer(self.token), **CE_BATCH}
                )
            except httpx.TransportError as exc:
                self.retries[type(exc).__name__] += 1
            else:
                if response.status_code < 500:
                    break
                self.retries[str(response.status_code)] += 1
                self.failures.append(response)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        assert response.status_code in (200, 201), response.text
        for result in response.json()["results"]:
            self.acknowledged[(result["source"], result["id"])] = result["position"]

    async def stream(
        self, source: Iterator[list[Event]], stop: asyncio.Event, pause: float = 0.0
    ) -> None:
        """Send batch after batch until `stop` is set (the batch in flight is finished)."""
        for batch in source:
            if stop.is_set():
                return
            await self.send(batch)
            await asyncio.sleep(pause)


READS = (
    ("/v1/scoreboard", {"from": "2026-01-01", "to": "2026-04-01", "group_by": "team"}),
    ("/v1/funnel", {"as_of": "2026-03-31", "consistency": "eventual"}),
    ("/v1/events", {"after": "0", "limit": "50"}),
)


@dataclass(slots=True)
class Reader:
    """Asks the read endpoints in turn, and keeps every answer that is not a `200`."""

    http: httpx.AsyncClient
    base: str
    token: str
    answers: Counter[int] = field(default_factory=Counter)
    failures: list[httpx.Response] = field(default_factory=list)

    async def poll(self, stop: asyncio.Event, pause: float = 0.02) -> None:
        """Read until `stop` is set; a connection error counts as status 0."""
        while not stop.is_set():
            for path, params in READS:
                try:
                    response = await self.http.get(
                        f"{self.base}{path}", params=params, headers=bearer(self.token)
                    )
                except httpx.TransportError:
                    self.answers[0] += 1
                    continue
                self.answers[response.status_code] += 1
                if response.status_code != 200:
                    self.failures.append(response)
            await asyncio.sleep(pause)
