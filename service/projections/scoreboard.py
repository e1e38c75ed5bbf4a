"""The five numbers and the funnel (contract §5), computed purely from the raw events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, Literal

from service.events.recorded import RecordedEvent
from service.events.vocabulary import RETRACTION
from service.projections.accounts import (
    DealAccount,
    account_key,
    account_names,
    deal_accounts,
)
from service.projections.deal import STAGES, DealState, deal_states, is_deal
from service.projections.knowledge import visible
from service.projections.rules import RULES, FlowKind, just_before
from service.projections.teams import TeamHistory, team_at, team_history

if TYPE_CHECKING:  # profiles builds on this module
    from service.projections.profiles import RepProfile

GroupBy = Literal["rep", "team", "all", "account"]
ALL_KEY: Final = "all"
_MONEY: Final = RULES.money_kind
_SPLIT: Final = RULES.split_kind
_SPLIT_FIELD: Final = RULES.split_field
_DEALS_OF: Final = {
    kind: number for kind, number in RULES.deal_kinds.items() if kind != _MONEY.name
}
"""The kinds counted as sets of deals (the money kind is counted by its signings)."""
_OPEN_BY_STAGE: Final = RULES.open_by_stage
_EVENT_KINDS: Final = {flow.name: flow for flow in RULES.event_kinds}
"""The kinds counted per event besides the split kind (calls), by name."""
_EVENT_NUMBERS: Final = RULES.event_numbers


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
    calls: int = 0
    """Outbound calls (`call.logged`), credited to the event's rep."""
    connected_calls: int = 0
    """The calls among them whose outcome is a connected one (`rules.CONNECTED_OUTCOMES`)."""
    talk_time_s: int = 0
    """The `duration_s` of the connected calls, summed."""

    def is_zero(self) -> bool:
        """Whether every number is zero (such a key gets no row)."""
        return not (
            self.closed_deals
            or self.committed_deals
            or self.opportunities
            or self.leads
            or self.client_visits
            or self.calls
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
            "calls": self.calls,
            "connected_calls": self.connected_calls,
            "talk_time_s": self.talk_time_s,
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
    profile: RepProfile | None = None
    """The rep's profile at the period's end (rows by rep; None when the rep has none)."""
    account_name: str | None = None
    """The account's name at the period's end (rows by account; None for the key None)."""

    def to_json(self, *, named: bool = False, account: bool = False) -> dict[str, Any]:
        """The row as a JSON-ready dict, its key first; with `named`, the rep's name next;
        with `account`, the account's name next."""
        name = {"rep_name": self.profile.name if self.profile else None} if named else {}
        if account:
            name["account_name"] = self.account_name
        return {"key": self.key, **name, **self.numbers.to_json()}


@dataclass(frozen=True, slots=True)
class Scoreboard:
    """The scoreboard of [start, end) as known at `known_at`: rows by key and totals."""

    start: datetime
    end: datetime
    known_at: datetime | None
    group_by: GroupBy
    rows: tuple[ScoreRow, ...]
    totals: ScoreNumbers
    working_days: Fraction | None = None
    """The period's working days in the company calendar (set with the targets)."""

    def to_json(self) -> dict[str, Any]:
        """The scoreboard in the shape of `GET /v1/scoreboard`."""
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "known_at": None if self.known_at is None else self.known_at.isoformat(),
            "group_by": self.group_by,
            "working_days": self.working_days_json(),
            "rows": [
                row.to_json(named=self.group_by == "rep", account=self.group_by == "account")
                for row in self.rows
            ],
            "totals": self.totals.to_json(),
        }

    def working_days_json(self) -> float | None:
        """The working days as a JSON number rounded to 4 decimals (None when not known)."""
        return None if self.working_days is None else _round(self.working_days)


def _new_deal_sets() -> dict[str, set[str]]:
    return {kind: set() for kind in _DEALS_OF}


def _no_open() -> list[int]:
    return [0] * len(RULES.open_groups)


@dataclass(slots=True)
class _Tally:
    """What one key accumulates while the events are walked in contract order."""

    signings: dict[str, tuple[Any, str]] = field(default_factory=dict)
    deals: dict[str, set[str]] = field(default_factory=_new_deal_sets)
    """Kind → the deals with a counting event of that kind."""
    split: dict[str, int] = field(default_factory=dict)
    """Split value (FSI, FUA) → counting events."""
    open: list[int] = field(default_factory=_no_open)
    """Open deals per open number, in `RULES.open_groups` order."""
    events: dict[str, int] = field(default_factory=dict)
    """Number → counted events, sub-counted events or the measure, for `RULES.event_kinds`."""

    def count_open(self, stage: str | None) -> None:
        for index in _OPEN_BY_STAGE.get(stage, ()):
            self.open[index] += 1

    def _deal_sets(self) -> list[tuple[str, set[str]]]:
        return [(number, self.deals[kind]) for kind, number in _DEALS_OF.items()]

    def numbers(self) -> ScoreNumbers:
        counts: dict[str, Any] = {number: len(deals) for number, deals in self._deal_sets()}
        counts[_MONEY.number] = len(self.signings)
        counts |= {number: self.split.get(value, 0) for value, number in RULES.split.items()}
        counts[_SPLIT.number] = sum(self.split.values())
        counts |= {number: self.events.get(number, 0) for number in _EVENT_NUMBERS}
        return ScoreNumbers(
            **counts,
            closed_value=_closed_value(self.signings.values()),
            open=OpenNumbers(**dict(zip(RULES.open_numbers, self.open, strict=True))),
        )


def zero_numbers() -> ScoreNumbers:
    """The numbers of a key with nothing in the period (every number zero, no goals)."""
    return _Tally().numbers()


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


def _split(tally: _Tally, event: RecordedEvent) -> None:
    value = event.data[_SPLIT_FIELD]
    tally.split[value] = tally.split.get(value, 0) + 1


def _per_event(flow: FlowKind) -> Callable[[_Tally, RecordedEvent], None]:
    def count(tally: _Tally, event: RecordedEvent) -> None:
        data = event.data
        if not flow.admits(data):
            return
        tally.events[flow.number] = tally.events.get(flow.number, 0) + 1
        if flow.subcount is not None and flow.in_subcount(data):
            number = flow.subcount.number
            tally.events[number] = tally.events.get(number, 0) + 1
        measured = flow.measured(data)
        if flow.measure is not None and measured is not None:
            number = flow.measure.number
            tally.events[number] = tally.events.get(number, 0) + measured

    return count


def _deal_of(kind: str) -> Callable[[_Tally, RecordedEvent], None]:
    def count(tally: _Tally, event: RecordedEvent) -> None:
        tally.deals[kind].add(event.subject)

    return count


def _counter(kind: str) -> Callable[[_Tally, RecordedEvent], None]:
    if kind == _MONEY.name:
        return _signed
    if kind == _SPLIT.name:
        return _split
    if kind in _EVENT_KINDS:
        return _per_event(_EVENT_KINDS[kind])
    return _deal_of(kind)


_FLOW: Final[dict[str, Callable[[_Tally, RecordedEvent], None]]] = {
    event_type: _counter(kind) for event_type, kind in RULES.flow_kinds.items()
}
"""Event type → how it counts, from the rule table's flow kinds."""


def _credit(
    group_by: GroupBy, teams: TeamHistory, rep_id: str | None, instant: datetime
) -> str | None:
    if group_by == "account":
        raise ValueError("rows by account are credited by deal, not by rep")
    if group_by == "all":
        return ALL_KEY
    if group_by == "team":
        return team_at(teams, rep_id, instant)
    return rep_id


_SETTLING: Final = RULES.settling_types
_UNSETTLING: Final = RULES.unsettling_types


def settled_before(stream: Iterable[RecordedEvent], start: datetime) -> bool:
    """Whether one deal stream adds nothing to a scoreboard from `start` on, whatever its end.

    `stream` is the stream's events a period selects (`period_events`: those recorded by its
    `known_at` that occurred before its end, and their retractions). It adds nothing when
    none is a retraction, none occurred from `start` on (no flow in the period) and its latest
    settling event (`RuleTable.settling_types`) occurred after every unsettling one: in the
    contract's order nothing moves the deal out of a settled stage after it, so at the end
    the deal counts in no open number. Rows by rep, team and all only: rows by account also
    take account names from every deal. The replay's SQL asks the same of each stream
    (`period_events.period_streams`), and a property test holds the two alike.
    """
    settled_at: datetime | None = None
    unsettled_at: datetime | None = None
    for event in stream:
        at, event_type = event.occurred_at, event.type
        if event_type == RETRACTION or at >= start:
            return False
        if event_type in _SETTLING and (settled_at is None or at > settled_at):
            settled_at = at
        elif event_type in _UNSETTLING and (unsettled_at is None or at > unsettled_at):
            unsettled_at = at
    return settled_at is not None and (unsettled_at is None or unsettled_at < settled_at)


def _tally_of(tallies: dict[str | None, _Tally], key: str | None) -> _Tally:
    """The key's tally, made on first use (not `setdefault`, which makes one per call)."""
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = _Tally()
    return tally


class ScoreboardFold:
    """`compute_scoreboard` fed a few streams at a time, so that no caller holds the whole log.

    Every number of a key is a sum over deals (and over the events of non-deal streams), and a
    retraction lives in the stream of the event it retracts (contract §3): folding the log
    stream by stream and adding up gives the scoreboard of the whole log, provided each
    `add` is given every event of each stream it touches. Rows by team need the team history
    of the whole log (`teams`), since rep streams are not deal streams.
    """

    def __init__(
        self,
        *,
        start: datetime,
        end: datetime,
        known_at: datetime | None,
        group_by: GroupBy,
        teams: TeamHistory | None = None,
    ) -> None:
        if group_by == "team" and teams is None:
            raise ValueError("rows by team need the team history")
        self._start = start
        self._end = end
        self._known_at = known_at
        self._group_by = group_by
        self._teams: TeamHistory = teams or {}
        # "As of just before `end`": the period is half-open, so `end` itself is outside it.
        self._last_instant = just_before(end)
        self._tallies: dict[str | None, _Tally] = {}
        self._totals = _Tally()
        self._accounts: dict[str, DealAccount] = {}

    def add(self, events: Iterable[RecordedEvent]) -> None:
        """Fold every event of some streams (no stream split across two calls), in any order."""
        self.add_visible(visible(events, as_of=None, known_at=self._known_at))

    def add_visible(self, known: list[RecordedEvent]) -> None:
        """`add` for events already taken through `visible` at this fold's `known_at`."""
        start, end, group_by, teams = self._start, self._end, self._group_by, self._teams
        tallies, totals = self._tallies, self._totals
        open_deals = deal_states(event for event in known if event.occurred_at < end)
        by_account = group_by == "account"
        for event in known:
            flow = _FLOW.get(event.type)
            if flow is None or not start <= event.occurred_at < end or not is_deal(event.subject):
                continue
            if by_account:
                key = _account_of(open_deals.get(event.subject))
            else:
                key = _credit(group_by, teams, event.data.get("rep_id"), event.occurred_at)
            flow(_tally_of(tallies, key), event)
            flow(totals, event)
        for state in open_deals.values():
            if by_account:
                key = _account_of(state)
            else:
                key = _credit(group_by, teams, state.owner_rep_id, self._last_instant)
            _tally_of(tallies, key).count_open(state.stage)
            totals.count_open(state.stage)
        if by_account:
            self._accounts.update(deal_accounts(known, self._last_instant))

    def scoreboard(self) -> Scoreboard:
        """The scoreboard of everything added so far."""
        names = account_names(self._accounts.values())
        rows = [
            ScoreRow(key, tally.numbers(), account_name=names.get(key) if key is not None else None)
            for key, tally in self._tallies.items()
        ]
        rows.sort(key=_row_order)
        return Scoreboard(
            start=self._start,
            end=self._end,
            known_at=self._known_at,
            group_by=self._group_by,
            rows=tuple(row for row in rows if not row.numbers.is_zero()),
            totals=self._totals.numbers(),
        )


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
    teams = team_history(known) if group_by == "team" else None
    board = ScoreboardFold(start=start, end=end, known_at=known_at, group_by=group_by, teams=teams)
    board.add_visible(known)
    return board.scoreboard()


def _account_of(state: DealState | None) -> str | None:
    """The key of a deal's account (rows by account): its account at the period's end."""
    return None if state is None else account_key(state.account)


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
