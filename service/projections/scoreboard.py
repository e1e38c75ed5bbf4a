"""The five numbers and the funnel (contract §5), computed purely from the raw events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any, Final, Literal

from service.events.recorded import RecordedEvent
from service.projections.deal import STAGES, Stage, deal_states, is_deal
from service.projections.knowledge import visible
from service.projections.teams import TeamHistory, team_at, team_history

GroupBy = Literal["rep", "team", "all"]
ALL_KEY: Final = "all"
_JUST_BEFORE: Final = timedelta(microseconds=1)
_OPEN_OPPORTUNITY: Final = frozenset({Stage.OPPORTUNITY, Stage.EB_COMMITTED, Stage.COMMITTED})


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)


@dataclass(frozen=True, slots=True)
class OpenNumbers:
    """Deals open at the end of the period, by stage group."""

    leads: int = 0
    opportunities: int = 0
    committed_deals: int = 0

    def to_json(self) -> dict[str, int]:
        """The open numbers as a JSON-ready dict."""
        return {
            "leads": self.leads,
            "opportunities": self.opportunities,
            "committed_deals": self.committed_deals,
        }


def _round(value: Fraction) -> float:
    return float(round(value, 4))


@dataclass(frozen=True, slots=True)
class Goals:
    """Targets scaled to the period, per metric, and the priorities in force at its start."""

    targets: Mapping[str, Fraction] = field(default_factory=dict)
    priorities: tuple[str, ...] | None = None


NO_GOALS: Final = Goals()


@dataclass(frozen=True, slots=True)
class ScoreNumbers:
    """The five numbers of a period, with their visit split, closed value and open deals."""

    closed_deals: int
    committed_deals: int
    opportunities: int
    leads: int
    client_visits: int
    fsi_visits: int
    fua_visits: int
    closed_value: Mapping[str, Decimal]
    open: OpenNumbers
    goals: Goals = NO_GOALS

    def is_zero(self) -> bool:
        """Whether every number is zero (such a key gets no row)."""
        return not (
            self.closed_deals
            or self.committed_deals
            or self.opportunities
            or self.leads
            or self.client_visits
            or any(self.closed_value.values())
            or self.open.leads
            or self.open.opportunities
            or self.open.committed_deals
        )

    def conversion(self) -> dict[str, float | None]:
        """Flow ratios from stage to stage (None when there is nothing to convert)."""
        return {
            "lead_to_opportunity": _ratio(self.opportunities, self.leads),
            "opportunity_to_committed": _ratio(self.committed_deals, self.opportunities),
            "committed_to_closed": _ratio(self.closed_deals, self.committed_deals),
        }

    def to_json(self) -> dict[str, Any]:
        """The numbers as a JSON-ready dict; money as plain decimal strings."""
        return {
            "closed_deals": self.closed_deals,
            "committed_deals": self.committed_deals,
            "opportunities": self.opportunities,
            "leads": self.leads,
            "client_visits": self.client_visits,
            "fsi_visits": self.fsi_visits,
            "fua_visits": self.fua_visits,
            "closed_value": {
                currency: format(self.closed_value[currency], "f")
                for currency in sorted(self.closed_value)
            },
            "open": self.open.to_json(),
            "conversion": self.conversion(),
            "fsi_share": _ratio(self.fsi_visits, self.client_visits),
            "targets": {metric: _round(value) for metric, value in self.goals.targets.items()},
            "attainment": self.attainment(),
            "priorities": None if self.goals.priorities is None else list(self.goals.priorities),
        }

    def attainment(self) -> dict[str, float | None]:
        """Actual ÷ target per metric with a target (None for a zero target)."""
        return {
            metric: None if not target else _round(getattr(self, metric) / target)
            for metric, target in self.goals.targets.items()
        }


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One row of the scoreboard: a rep, a team, `None` (nobody) or "all"."""

    key: str | None
    numbers: ScoreNumbers

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON-ready dict, its key first."""
        return {"key": self.key, **self.numbers.to_json()}


@dataclass(frozen=True, slots=True)
class Scoreboard:
    """The scoreboard of [start, end) as known at `known_at`: rows by key and totals."""

    start: datetime
    end: datetime
    known_at: datetime | None
    group_by: GroupBy
    rows: tuple[ScoreRow, ...]
    totals: ScoreNumbers

    def to_json(self) -> dict[str, Any]:
        """The scoreboard in the shape of `GET /v1/scoreboard`."""
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "known_at": None if self.known_at is None else self.known_at.isoformat(),
            "group_by": self.group_by,
            "rows": [row.to_json() for row in self.rows],
            "totals": self.totals.to_json(),
        }


@dataclass(slots=True)
class _Tally:
    """What one key accumulates while the events are walked in contract order."""

    signings: dict[str, tuple[Any, str]] = field(default_factory=dict)
    committed: set[str] = field(default_factory=set)
    qualified: set[str] = field(default_factory=set)
    sourced: set[str] = field(default_factory=set)
    fsi_visits: int = 0
    fua_visits: int = 0
    open_leads: int = 0
    open_opportunities: int = 0
    open_committed: int = 0

    def count_open(self, stage: str | None) -> None:
        if stage == Stage.LEAD:
            self.open_leads += 1
        elif stage in _OPEN_OPPORTUNITY:
            self.open_opportunities += 1
            if stage == Stage.COMMITTED:
                self.open_committed += 1

    def numbers(self) -> ScoreNumbers:
        return ScoreNumbers(
            closed_deals=len(self.signings),
            committed_deals=len(self.committed),
            opportunities=len(self.qualified),
            leads=len(self.sourced),
            client_visits=self.fsi_visits + self.fua_visits,
            fsi_visits=self.fsi_visits,
            fua_visits=self.fua_visits,
            closed_value=_closed_value(self.signings.values()),
            open=OpenNumbers(self.open_leads, self.open_opportunities, self.open_committed),
        )


def _closed_value(signings: Iterable[tuple[Any, str]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    # Exact sums whatever the number of deals: the default 28 digits could round a large total.
    with localcontext() as context:
        context.prec = 60
        for amount, currency in signings:
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(str(amount))
    return totals


def _signed(tally: _Tally, event: RecordedEvent) -> None:
    # Events come in contract order, so the last write is the deal's latest signing.
    tally.signings[event.subject] = (event.data["amount"], event.data["currency"])


def _approved(tally: _Tally, event: RecordedEvent) -> None:
    tally.committed.add(event.subject)


def _qualified(tally: _Tally, event: RecordedEvent) -> None:
    tally.qualified.add(event.subject)


def _sourced(tally: _Tally, event: RecordedEvent) -> None:
    tally.sourced.add(event.subject)


def _visited(tally: _Tally, event: RecordedEvent) -> None:
    if event.data["kind"] == "FSI":
        tally.fsi_visits += 1
    else:
        tally.fua_visits += 1


_FLOW: Final[dict[str, Callable[[_Tally, RecordedEvent], None]]] = {
    "deal.contract_signed": _signed,
    "deal.committee_approved": _approved,
    "deal.qualified": _qualified,
    "lead.sourced": _sourced,
    "visit.completed": _visited,
}


def _credit(
    group_by: GroupBy, teams: TeamHistory, rep_id: str | None, instant: datetime
) -> str | None:
    if group_by == "all":
        return ALL_KEY
    if group_by == "team":
        return team_at(teams, rep_id, instant)
    return rep_id


def compute_scoreboard(
    events: Iterable[RecordedEvent],
    *,
    start: datetime,
    end: datetime,
    known_at: datetime | None,
    group_by: GroupBy,
) -> Scoreboard:
    """The scoreboard of [start, end) known at `known_at`, from every raw event in any order."""
    known = visible(events, as_of=None, known_at=known_at)
    teams = team_history(known) if group_by == "team" else {}
    tallies: dict[str | None, _Tally] = {}
    totals = _Tally()
    for event in known:
        flow = _FLOW.get(event.type)
        if flow is None or not start <= event.occurred_at < end or not is_deal(event.subject):
            continue
        key = _credit(group_by, teams, event.data.get("rep_id"), event.occurred_at)
        flow(tallies.setdefault(key, _Tally()), event)
        flow(totals, event)
    # "As of just before `end`": the period is half-open, so `end` itself is outside it.
    last_instant = end - _JUST_BEFORE
    open_deals = deal_states(event for event in known if event.occurred_at < end)
    for state in open_deals.values():
        key = _credit(group_by, teams, state.owner_rep_id, last_instant)
        tallies.setdefault(key, _Tally()).count_open(state.stage)
        totals.count_open(state.stage)
    rows = [ScoreRow(key, tally.numbers()) for key, tally in tallies.items()]
    rows.sort(key=_row_order)
    return Scoreboard(
        start=start,
        end=end,
        known_at=known_at,
        group_by=group_by,
        rows=tuple(row for row in rows if not row.numbers.is_zero()),
        totals=totals.numbers(),
    )


def _row_order(row: ScoreRow) -> tuple[bool, str]:
    # Rows by key, the unassigned (None) last.
    return (row.key is None, row.key or "")


def compute_funnel(
    events: Iterable[RecordedEvent],
    *,
    as_of: datetime | None,
    known_at: datetime | None,
    rep_id: str | None,
) -> dict[str, int]:
    """Deals per stage at (`as_of`, `known_at`); with `rep_id`, only the deals it owns then."""
    stages = dict.fromkeys(STAGES, 0)
    states = deal_states(visible(events, as_of=as_of, known_at=known_at))
    for state in states.values():
        if state.stage is not None and (rep_id is None or state.owner_rep_id == rep_id):
            stages[state.stage] += 1
    return stages
