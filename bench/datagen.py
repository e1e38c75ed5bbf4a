"""A deterministic, realistic sales history for benchmarks: deals over a year, in batches.

Deals move lead → opportunity → EB commitment → committee → signed (or get lost or
disqualified) with visits and calls along the way; a few events arrive late, a few are retracted,
reps belong to teams. Events are CloudEvents dicts ready to POST.

`history` is one year of a 60-rep company (what `bench/run.py` measures); `company_years`
grows a larger company year by year (`bench/scale.py`: 500 reps over ten years), with each
event's delivery instant, so that a log of N years is a prefix of the log of N + 1 years.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2025, 7, 1, tzinfo=UTC)
DAYS = 365
CHANNELS = ("web", "trade_show", "referral", "cold_call", "email", "linkedin", "event", "other")


@dataclass(frozen=True, slots=True)
class Shape:
    """How big a generated history is."""

    deals: int
    reps: int = 60
    teams: int = 6


def _event(n: int, kind: str, subject: str, when: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"b-{n}",
        "source": "bench",
        "type": kind,
        "subject": subject,
        "time": when.isoformat(),
        "data": data,
    }


def _deal_events(
    rng: random.Random, deal: int, reps: int, start: datetime = START, days: int = DAYS
) -> list[tuple[str, datetime, dict[str, Any]]]:
    rep = f"R-{rng.randrange(reps):03d}"
    t = start + timedelta(seconds=rng.randrange(days * 86400 - 60 * 86400))
    out: list[tuple[str, datetime, dict[str, Any]]] = []

    def step(kind: str, data: dict[str, Any], days: float) -> None:
        nonlocal t
        t += timedelta(seconds=int(rng.expovariate(1 / (days * 86400))) + 60)
        out.append((kind, t, {"rep_id": rep, **data}))

    amount = f"{rng.randrange(50, 5000) * 1000}.00"
    step(
        "lead.sourced",
        {"account": {"name": f"Account {deal}"}, "channel": rng.choice(CHANNELS)},
        0.1,
    )
    step("lead.contacted", {"method": "call"}, 2)
    step("visit.completed", {"kind": "FSI"}, 5)
    for _ in range(rng.randrange(1, 5)):
        step("call.logged", {"direction": "outbound", "duration_s": rng.randrange(30, 1800)}, 3)
    if rng.random() < 0.15:
        step("deal.disqualified", {"reason": "no budget"}, 5)
        return out
    step("deal.qualified", {"amount": amount, "currency": "TWD"}, 7)
    step("visit.completed", {"kind": "FUA"}, 7)
    if rng.random() < 0.1:
        step("deal.reassigned", {"to_rep_id": f"R-{rng.randrange(reps):03d}"}, 3)
    if rng.random() < 0.35:
        step("deal.lost", {"reason": "price"}, 10)
        return out
    step("deal.eb_committed", {"eb": {"name": "Ms. Chen", "title": "CFO"}}, 10)
    if rng.random() < 0.1:
        step("deal.eb_departed", {}, 10)
        step("deal.eb_committed", {"eb": {"name": "Mr. Lin"}}, 10)
    step("visit.completed", {"kind": "FUA"}, 5)
    if rng.random() < 0.3:
        step("deal.lost", {"reason": "competitor", "competitor": "Acme"}, 10)
        return out
    step("deal.committee_approved", {}, 10)
    step(
        "deal.contract_signed",
        {"amount": amount, "currency": "TWD", "contract_id": f"C-{deal}"},
        10,
    )
    return out


def history(shape: Shape, seed: int = 7) -> list[dict[str, Any]]:
    """Every event of the history, in the order they are sent (mostly time order, some late)."""
    rng = random.Random(seed)
    timed: list[tuple[datetime, dict[str, Any]]] = []
    n = 0
    for rep in range(shape.reps):
        n += 1
        when = START - timedelta(days=30)
        timed.append(
            (
                when,
                _event(
                    n,
                    "rep.team_assigned",
                    f"rep:R-{rep:03d}",
                    when,
                    {"team_id": f"T-{rep % shape.teams}"},
                ),
            )
        )
    for deal in range(shape.deals):
        for kind, when, data in _deal_events(rng, deal, shape.reps):
            n += 1
            timed.append((when, _event(n, kind, f"D-{deal:06d}", when, data)))

    # Delivery follows time, but about 2% of events arrive up to two weeks late.
    def delivered(pair: tuple[datetime, dict[str, Any]]) -> datetime:
        late = timedelta(days=rng.uniform(0, 14)) if rng.random() < 0.02 else timedelta(0)
        return pair[0] + late

    timed.sort(key=delivered)
    events = [event for _, event in timed]
    # A few retractions of earlier events, sent after them.
    retractable = [e for e in events[: len(events) // 2] if e["type"] == "visit.completed"]
    for target in rng.sample(retractable, min(len(retractable), len(events) // 500)):
        n += 1
        retraction = _event(
            n,
            "event.retracted",
            target["subject"],
            datetime.fromisoformat(target["time"]) + timedelta(days=1),
            {
                "event_source": "bench",
                "event_id": target["id"],
                "reason": "duplicate entry",
                "rep_id": target["data"]["rep_id"],
            },
        )
        events.append(retraction)
    return events


def batches(events: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """The events in consecutive batches of `size`."""
    for start in range(0, len(events), size):
        yield events[start : start + size]


@dataclass(frozen=True, slots=True)
class Company:
    """A company that keeps its history for years: `deals_per_year` new deals each year.

    The defaults are the scale benchmark's: 500 reps in 50 teams, 100 000 deals (about a
    million events) a year, the first year starting on 2016-07-01.
    """

    deals_per_year: int = 100_000
    reps: int = 500
    teams: int = 50
    start: datetime = datetime(2016, 7, 1, tzinfo=UTC)

    def year_start(self, year: int) -> datetime:
        """The first instant of the company's `year` (0-based)."""
        return self.start.replace(year=self.start.year + year)


Delivered = tuple[datetime, dict[str, Any]]
"""An event and the instant it reaches the ledger (its time, or later for a late one)."""


def _year_events(company: Company, year: int, seed: int) -> list[Delivered]:
    """The events of the deals opened in `year`, with their delivery instants, unsorted."""
    rng = random.Random(seed * 1_000_003 + year)
    begin = company.year_start(year)
    days = (company.year_start(year + 1) - begin).days
    out: list[Delivered] = []
    if year == 0:
        when = begin - timedelta(days=30)
        for rep in range(company.reps):
            event = _event(
                0,
                "rep.team_assigned",
                f"rep:R-{rep:03d}",
                when,
                {"team_id": f"T-{rep % company.teams:02d}"},
            )
            event["id"] = f"s-rep-{rep}"
            out.append((when, event))
    first = year * company.deals_per_year
    for deal in range(first, first + company.deals_per_year):
        for number, (kind, when, data) in enumerate(
            _deal_events(rng, deal, company.reps, begin, days)
        ):
            event = _event(0, kind, f"D-{deal:07d}", when, data)
            event["id"] = f"s-{deal}-{number}"
            late = timedelta(days=rng.uniform(0, 14)) if rng.random() < 0.02 else timedelta(0)
            out.append((when + late, event))
    return out


def _retractions(rng: random.Random, delivered: list[Delivered], at: datetime) -> list[Delivered]:
    """About one event in 500 retracted: visits of the year's first half, retracted at `at`."""
    half = delivered[: len(delivered) // 2]
    visits = [event for _, event in half if event["type"] == "visit.completed"]
    out: list[Delivered] = []
    for target in rng.sample(visits, min(len(visits), len(delivered) // 500)):
        retraction = _event(
            0,
            "event.retracted",
            target["subject"],
            datetime.fromisoformat(target["time"]) + timedelta(days=1),
            {
                "event_source": "bench",
                "event_id": target["id"],
                "reason": "duplicate entry",
                "rep_id": target["data"]["rep_id"],
            },
        )
        retraction["id"] = f"r-{target['id']}"
        out.append((at, retraction))
    return out


def company_years(company: Company, years: int, seed: int = 7) -> Iterator[list[Delivered]]:
    """The company's events year by year, in delivery order: each list holds what reaches the
    ledger during one year (deals opened the year before carry on into it), ending with that
    year's retractions. Only one year's events are held at a time."""
    carried: list[Delivered] = []
    for year in range(years):
        end = company.year_start(year + 1)
        pending = carried + _year_events(company, year, seed)
        pending.sort(key=lambda pair: pair[0])
        cut = next((i for i, (when, _) in enumerate(pending) if when >= end), len(pending))
        delivered, carried = pending[:cut], pending[cut:]
        rng = random.Random(seed * 7919 + year)
        delivered += _retractions(rng, delivered, end - timedelta(hours=1))
        yield delivered
