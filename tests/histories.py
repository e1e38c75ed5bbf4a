"""Random event histories as a client would deliver them: shuffled, in batches, re-sent, retracted.

Shared by the property tests that compare the SQL read models and the HTTP answers with the pure
fold. Every event is a valid CloudEvent; a retraction is always delivered after its target.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from service.events.recorded import RecordedEvent
from tests.factories import ce, retraction

MICROSECOND = timedelta(microseconds=1)
Q1_START = datetime(2026, 1, 1, tzinfo=UTC)
Q2_START = datetime(2026, 4, 1, tzinfo=UTC)
Q3_START = datetime(2026, 7, 1, tzinfo=UTC)
INSTANTS = (
    datetime(2025, 12, 31, 23, tzinfo=UTC),
    Q1_START,
    datetime(2026, 3, 30, 12, tzinfo=UTC),
    Q2_START - MICROSECOND,
    Q2_START,
    Q2_START + MICROSECOND,
    datetime(2026, 4, 15, 9, tzinfo=UTC),
    Q3_START,
)
"""Few valid times, on and around a quarter boundary, so that ties and edges are common."""

PERIODS = (
    (Q1_START, Q2_START),
    (Q2_START, Q3_START),
    (datetime(2026, 3, 1, tzinfo=UTC), Q2_START),
    (Q1_START, Q3_START),
)
DEALS = ("D-1", "D-2", "D-3", "D-4")
CALENDAR_DATES = ("2026-01-01", "2026-01-03", "2026-03-31", "2026-04-04", "2026-06-30")
"""Declared dates: weekdays and Saturdays at the periods' edges."""
REPS = ("R-1", "R-2", "R-3")
TEAMS = ("North", "South")
SOURCES = ("crm", "phone")
OFFSETS = (UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)))
AMOUNTS = ("0", "1.00", "2.5", "300", "0.125", "125000.00", "98765432.10")
"""The last amount's coefficient does not fit in int32: the copy widens its column for it."""
CURRENCIES = ("TWD", "USD")
ACCOUNTS: tuple[dict[str, str], ...] = (
    {"name": "Formosa Foods"},
    {"name": "Formosa Foods Taipei", "id": "A-1"},
    {"name": "Formosa Foods Ltd", "id": "A-1"},
    {"name": "Lin Logistics", "id": "A-2"},
    {"name": "A-2"},
)
"""Accounts with and without a CRM id: one id under two names, a name equal to another's id."""
ACCOUNT_KEYS = ("Formosa Foods", "A-1", "A-2", "Nobody Ltd")
CALL_SECONDS = (0, 1, 95, 1260)
CALL_OUTCOMES = (None, "answered", "Connected", "REACHED", "Left voicemail", "no_available_agent")
"""Connected outcomes in any case, and others (Aircall, HubSpot and Salesforce alike)."""
# Weighted towards the events that set stages and count in the five numbers.
DEAL_TYPES = (
    *["lead.sourced"] * 3,
    "lead.contacted",
    *["visit.completed"] * 2,
    *["call.logged"] * 2,
    *["deal.qualified"] * 2,
    "deal.disqualified",
    *["deal.eb_committed"] * 2,
    *["deal.eb_departed"] * 2,
    *["deal.committee_approved"] * 2,
    *["deal.contract_signed"] * 2,
    "deal.lost",
    *["deal.reassigned"] * 2,
    "deal.amount_revised",
)

Raw = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """Batches of raw CloudEvents in the order they are sent; duplicates included."""

    batches: tuple[tuple[Raw, ...], ...]

    def __iter__(self) -> Iterator[tuple[Raw, ...]]:
        return iter(self.batches)

    def describe(self) -> str:
        """One line per event, batch by batch: enough to replay a failing example by hand."""
        lines: list[str] = []
        for number, batch in enumerate(self.batches, 1):
            lines.append(f"batch {number}:")
            lines.extend(
                f"  {raw['source']}/{raw['id']} {raw['type']} {raw['subject']} {raw['time']} "
                f"{raw['data']}"
                for raw in batch
            )
        return "\n".join(lines)


def _money(draw: st.DrawFn) -> dict[str, str]:
    return {"amount": draw(st.sampled_from(AMOUNTS)), "currency": draw(st.sampled_from(CURRENCIES))}


def _data(draw: st.DrawFn, type_: str, deal: str) -> dict[str, Any]:
    choose = st.sampled_from
    match type_:
        case "lead.sourced":
            account = {**draw(choose(ACCOUNTS)), "industry": draw(choose(["IT", "Retail"]))}
            return {"account": account, "channel": draw(choose(["web", "referral", "event"]))}
        case "lead.contacted":
            return {"method": draw(choose(["call", "visit", "email"]))}
        case "visit.completed":
            return {"kind": draw(choose(["FSI", "FUA"]))}
        case "call.logged":
            call = {
                "direction": draw(choose(["outbound", "outbound", "inbound"])),
                "duration_s": draw(choose(CALL_SECONDS)),
            }
            outcome = draw(choose(CALL_OUTCOMES))
            return call if outcome is None else {**call, "outcome": outcome}
        case "deal.qualified" | "deal.amount_revised":
            return _money(draw)
        case "deal.contract_signed":
            return {**_money(draw), "contract_id": f"C-{deal}"}
        case "deal.eb_committed":
            return {"eb": {"name": "Ms. Lin", "title": "CFO"}}
        case "deal.reassigned":
            return {"to_rep_id": draw(choose(REPS))}
        case "deal.disqualified" | "deal.lost":
            return {"reason": "no budget"}
        case _:
            return {}


def _time(draw: st.DrawFn) -> str:
    instant = draw(st.sampled_from(INSTANTS))
    return instant.astimezone(draw(st.sampled_from(OFFSETS))).isoformat()


def _event(draw: st.DrawFn, index: int) -> Raw:
    source = draw(st.sampled_from(SOURCES))
    if draw(st.integers(0, 6)) == 0:
        rep = draw(st.sampled_from(REPS))
        data = {"team_id": draw(st.sampled_from(TEAMS)), "rep_id": rep}
        return ce(
            "rep.team_assigned", f"rep:{rep}", _time(draw), data, id=f"e-{index}", source=source
        )
    if draw(st.integers(0, 9)) == 0:
        key = draw(st.sampled_from(ACCOUNT_KEYS))
        mark: dict[str, Any] = {"account": key, "key": draw(st.booleans())}
        subject = f"account:{key.replace(' ', '-')}"
        return ce("account.key_set", subject, _time(draw), mark, id=f"e-{index}", source=source)
    if draw(st.integers(0, 11)) == 0:
        # The company calendar's stream: never a deal, whatever reads the log.
        day = draw(st.sampled_from(CALENDAR_DATES))
        declared: dict[str, Any] = {"date": day, "working": draw(st.booleans())}
        return ce(
            "calendar.day_set",
            "calendar:company",
            _time(draw),
            declared,
            id=f"e-{index}",
            source=source,
        )
    type_ = draw(st.sampled_from(DEAL_TYPES))
    deal = draw(st.sampled_from(DEALS))
    data = {"rep_id": draw(st.sampled_from(REPS)), **_data(draw, type_, deal)}
    return ce(type_, deal, _time(draw), data, id=f"e-{index}", source=source)


def _with_retractions(draw: st.DrawFn, sequence: list[Raw]) -> list[Raw]:
    """Insert, after some events, a retraction of them (each event retracted at most once)."""
    result = list(sequence)
    for index, target in enumerate(sequence):
        if draw(st.integers(0, 3)) != 0:
            continue
        after = next(i for i, raw in enumerate(result) if raw is target) + 1
        where = draw(st.integers(after, len(result)))
        rep = target["data"].get("rep_id", REPS[0])
        undo = retraction(
            target["subject"], rep, _time(draw), target, id=f"x-{index}", source="crm"
        )
        result.insert(where, undo)
    return result


def _batches(draw: st.DrawFn, sequence: list[Raw]) -> list[list[Raw]]:
    cuts = draw(st.lists(st.integers(0, 2), min_size=len(sequence), max_size=len(sequence)))
    batches: list[list[Raw]] = [[]]
    for raw, cut in zip(sequence, cuts, strict=True):
        batches[-1].append(raw)
        if cut == 0:
            batches.append([])
    return [batch for batch in batches if batch]


def _resend(draw: st.DrawFn, batches: list[list[Raw]]) -> list[list[Raw]]:
    """Re-send some events: earlier batches' anywhere, this batch's only after their first send."""
    sent: list[Raw] = []
    result: list[list[Raw]] = []
    for batch in batches:
        current = list(batch)
        for _ in range(draw(st.integers(0, 2))):
            pool = sent + batch
            pick = draw(st.integers(0, len(pool) - 1))
            first = 0
            if pick >= len(sent):
                original = batch[pick - len(sent)]
                first = next(i for i, raw in enumerate(current) if raw is original) + 1
            current.insert(draw(st.integers(first, len(current))), dict(pool[pick]))
        result.append(current)
        sent.extend(batch)
    if draw(st.booleans()):
        # A batch of nothing but re-sent events: stored nothing, answered "duplicate".
        result.append([dict(raw) for raw in draw(st.lists(st.sampled_from(sent), min_size=1))])
    return result


@st.composite
def deliveries(draw: st.DrawFn, max_events: int = 24) -> Delivery:
    """A history of deal, team and account events delivered in random order, batches and repetitions."""
    count = draw(st.integers(1, max_events))
    events = [_event(draw, index) for index in range(count)]
    shuffled = draw(st.permutations(events))
    batches = _resend(draw, _batches(draw, _with_retractions(draw, shuffled)))
    return Delivery(tuple(tuple(batch) for batch in batches))


def recorded_from_feed(item: Mapping[str, Any]) -> RecordedEvent:
    """A `RecordedEvent` from one event of `GET /v1/events`."""
    return RecordedEvent(
        position=item["position"],
        subject=item["subject"],
        stream_version=item["stream_version"],
        source=item["source"],
        id=item["id"],
        type=item["type"],
        occurred_at=datetime.fromisoformat(item["time"]),
        recorded_at=datetime.fromisoformat(item["recorded_at"]),
        data=item["data"],
        schema_version=item["schema_version"],
    )


def known_ats(log: list[RecordedEvent]) -> list[datetime]:
    """Every transaction time at which knowledge changed, and the instant just before each."""
    steps = sorted({event.recorded_at for event in log})
    return sorted({*steps, *(step - MICROSECOND for step in steps)})
