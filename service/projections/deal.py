"""The state of one deal: a pure `evolve` over its events, and the `fold` that repeats it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from service.events.recorded import RecordedEvent
from service.events.vocabulary import NON_DEAL_PREFIXES, RETRACTION
from service.projections.knowledge import visible
from service.projections.rules import RULES, StageEffect

STAGES: Final = RULES.stage_names
"""Every stage, in funnel order."""


def is_deal(subject: str) -> bool:
    """Whether a subject names a deal stream (not a `rep:<rep_id>` or `team:<team_id>` one)."""
    return not subject.startswith(NON_DEAL_PREFIXES)


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class DealState:
    """A deal as of some (`as_of`, `known_at`): exactly the fields of contract §4."""

    deal_id: str
    stage: str | None
    owner_rep_id: str | None
    account: Mapping[str, Any] | None
    channel: str | None
    amount: str | None
    currency: str | None
    eb: Mapping[str, Any] | None
    stage_entered_at: datetime | None
    first_event_at: datetime
    last_event_at: datetime
    fsi_visits: int
    fua_visits: int
    calls: int
    version: int

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict; instants as ISO 8601 in UTC."""
        return {
            "deal_id": self.deal_id,
            "stage": self.stage,
            "owner_rep_id": self.owner_rep_id,
            "account": None if self.account is None else dict(self.account),
            "channel": self.channel,
            "amount": self.amount,
            "currency": self.currency,
            "eb": None if self.eb is None else dict(self.eb),
            "stage_entered_at": _iso(self.stage_entered_at),
            "first_event_at": _iso(self.first_event_at),
            "last_event_at": _iso(self.last_event_at),
            "fsi_visits": self.fsi_visits,
            "fua_visits": self.fua_visits,
            "calls": self.calls,
            "version": self.version,
        }


@dataclass(slots=True)
class _Draft:
    """A mutable twin of `DealState`: a fold mutates one draft, not a copy per event."""

    deal_id: str
    first_event_at: datetime
    last_event_at: datetime
    version: int
    stage: str | None = None
    owner_rep_id: str | None = None
    account: Mapping[str, Any] | None = None
    channel: str | None = None
    amount: str | None = None
    currency: str | None = None
    eb: Mapping[str, Any] | None = None
    stage_entered_at: datetime | None = None
    fsi_visits: int = 0
    fua_visits: int = 0
    calls: int = 0

    def freeze(self, version: int | None = None) -> DealState:
        return DealState(
            deal_id=self.deal_id,
            stage=self.stage,
            owner_rep_id=self.owner_rep_id,
            account=self.account,
            channel=self.channel,
            amount=self.amount,
            currency=self.currency,
            eb=self.eb,
            stage_entered_at=self.stage_entered_at,
            first_event_at=self.first_event_at,
            last_event_at=self.last_event_at,
            fsi_visits=self.fsi_visits,
            fua_visits=self.fua_visits,
            calls=self.calls,
            version=self.version if version is None else version,
        )


def _thaw(state: DealState) -> _Draft:
    return _Draft(
        deal_id=state.deal_id,
        first_event_at=state.first_event_at,
        last_event_at=state.last_event_at,
        version=state.version,
        stage=state.stage,
        owner_rep_id=state.owner_rep_id,
        account=state.account,
        channel=state.channel,
        amount=state.amount,
        currency=state.currency,
        eb=state.eb,
        stage_entered_at=state.stage_entered_at,
        fsi_visits=state.fsi_visits,
        fua_visits=state.fua_visits,
        calls=state.calls,
    )


def _start(deal_id: str, event: RecordedEvent) -> _Draft:
    return _Draft(
        deal_id=deal_id,
        first_event_at=event.occurred_at,
        last_event_at=event.occurred_at,
        version=event.stream_version,
    )


def _lead_sourced(draft: _Draft, event: RecordedEvent) -> None:
    draft.owner_rep_id = event.data["rep_id"]
    draft.account = event.data["account"]
    draft.channel = event.data["channel"]


def _nothing(draft: _Draft, event: RecordedEvent) -> None:
    """An event without a state effect still dates the deal and bumps its version."""


_SPLIT_FIELD: Final = RULES.split_field
_FSI: Final = next(value for value, number in RULES.split.items() if number == "fsi_visits")


def _visit_completed(draft: _Draft, event: RecordedEvent) -> None:
    if event.data[_SPLIT_FIELD] == _FSI:
        draft.fsi_visits += 1
    else:
        draft.fua_visits += 1


def _call_logged(draft: _Draft, event: RecordedEvent) -> None:
    draft.calls += 1


def _eb_committed(draft: _Draft, event: RecordedEvent) -> None:
    draft.eb = event.data["eb"]


def _eb_departed(draft: _Draft, event: RecordedEvent) -> None:
    # Contract §4: the EB goes with the fall back, and only when the deal falls back.
    if RULES.effects[event.type].applies(draft.stage):
        draft.eb = None


def _reassigned(draft: _Draft, event: RecordedEvent) -> None:
    draft.owner_rep_id = event.data["to_rep_id"]


def _amount(value: object) -> str:
    # Stored data holds decimal strings; a JSON number is normalised the same way.
    return value if isinstance(value, str) else format(Decimal(str(value)), "f")


def _set_amount(draft: _Draft, event: RecordedEvent) -> None:
    data = event.data
    draft.amount = _amount(data["amount"])
    draft.currency = data["currency"]


Handler = Callable[[_Draft, RecordedEvent], None]

_FIELD_EFFECTS: Final[dict[str, Handler]] = {
    "lead.sourced": _lead_sourced,
    "lead.contacted": _nothing,
    "visit.completed": _visit_completed,
    "call.logged": _call_logged,
    "deal.qualified": _set_amount,
    "deal.eb_committed": _eb_committed,
    "deal.eb_departed": _eb_departed,
    "deal.contract_signed": _set_amount,
    "deal.reassigned": _reassigned,
    "deal.amount_revised": _set_amount,
}
"""What each deal event does to the state's other fields (owner, account, amount, EB, counts).

The stage is the rule table's: `_handler` puts both together once per event type.
"""


def _handler(fields: Handler, effect: StageEffect | None) -> Handler:
    """One handler per event type: its field effects, then its stage effect (`RULES.effects`).

    Built once at import, so a fold pays one call per event, as with hand-written handlers.
    """
    if effect is None:
        return fields
    stage, only_from = effect.to, effect.only_from
    plain = fields is _nothing  # most stage events touch no other field: skip the call

    def handle(draft: _Draft, event: RecordedEvent) -> None:
        if not plain:
            fields(draft, event)
        current = draft.stage
        # Re-entering the current stage keeps the instant the deal first got there.
        if current != stage and (only_from is None or current == only_from):
            draft.stage = stage
            draft.stage_entered_at = event.occurred_at

    return handle


_HANDLERS: Final[dict[str, Handler]] = {
    event_type: _handler(_FIELD_EFFECTS.get(event_type, _nothing), RULES.effects.get(event_type))
    for event_type in (*_FIELD_EFFECTS, *RULES.effects)
}


def _apply(draft: _Draft, event: RecordedEvent) -> None:
    handler = _HANDLERS.get(event.type)
    if handler is None:
        # Retractions and rep events are never folded into a deal: `visible` must filter them.
        raise ValueError(f"{event.type!r} is not a deal event and cannot be folded")
    # Plain comparisons, not min()/max(): this runs once per event of every rebuild.
    at = event.occurred_at
    if at < draft.first_event_at:  # noqa: PLR1730
        draft.first_event_at = at
    if at > draft.last_event_at:  # noqa: PLR1730
        draft.last_event_at = at
    if event.stream_version > draft.version:  # noqa: PLR1730
        draft.version = event.stream_version
    handler(draft, event)


class DealFold:
    """A fold in progress, fed one event at a time by the same mutator as `evolve` and `fold`.

    For callers that need the stage and owner after every event (timelines, histories) without
    paying for a frozen `DealState` each time.
    """

    __slots__ = ("_draft",)

    def __init__(self) -> None:
        self._draft: _Draft | None = None

    def add(self, event: RecordedEvent) -> None:
        """Fold the next visible event in contract order."""
        if self._draft is None:
            self._draft = _start(event.subject, event)
        _apply(self._draft, event)

    @property
    def started(self) -> bool:
        """Whether any event was folded."""
        return self._draft is not None

    @property
    def stage(self) -> str | None:
        """The stage so far."""
        return None if self._draft is None else self._draft.stage

    @property
    def owner_rep_id(self) -> str | None:
        """The owner so far."""
        return None if self._draft is None else self._draft.owner_rep_id

    @property
    def last_event_at(self) -> datetime | None:
        """The latest `occurred_at` folded."""
        return None if self._draft is None else self._draft.last_event_at

    def state(self) -> DealState | None:
        """The deal so far, frozen."""
        return None if self._draft is None else self._draft.freeze()


def evolve(state: DealState | None, event: RecordedEvent) -> DealState:
    """The deal after one more event (`None`: the deal before its first event)."""
    draft = _start(event.subject, event) if state is None else _thaw(state)
    _apply(draft, event)
    return draft.freeze()


def fold(
    deal_id: str, events: Iterable[RecordedEvent], version: int | None = None
) -> DealState | None:
    """The deal after its visible, ordered `events`; `None` if there are none.

    `version` overrides the default version, the highest `stream_version` folded.
    """
    iterator = iter(events)
    first = next(iterator, None)
    if first is None:
        return None
    draft = _start(deal_id, first)
    _apply(draft, first)
    for event in iterator:
        _apply(draft, event)
    return draft.freeze(version)


def deal_state_at(
    deal_id: str,
    events: Iterable[RecordedEvent],
    *,
    as_of: datetime | None,
    known_at: datetime | None,
) -> DealState | None:
    """The deal at (`as_of`, `known_at`) from raw events (any subject, any order); `None` if absent.

    Its version is the highest `stream_version` among the deal's events recorded by `known_at`
    that occurred by `as_of` (retracted or not) or that are retractions (whatever their `time`),
    so that a retraction that removed something also moves the version on.
    """
    own = [event for event in events if event.subject == deal_id]
    folded = visible(own, as_of=as_of, known_at=known_at)
    if not folded:
        return None
    version = max(
        event.stream_version
        for event in own
        if (known_at is None or event.recorded_at <= known_at)
        and (event.type == RETRACTION or as_of is None or event.occurred_at <= as_of)
    )
    return fold(deal_id, folded, version)


def deal_states(ordered: Iterable[RecordedEvent]) -> dict[str, DealState]:
    """Every deal folded from visible, ordered events of many subjects; rep/team events skipped."""
    drafts: dict[str, _Draft] = {}
    for event in ordered:
        subject = event.subject
        if subject.startswith(NON_DEAL_PREFIXES):
            continue
        draft = drafts.get(subject)
        if draft is None:
            draft = drafts[subject] = _start(subject, event)
        _apply(draft, event)
    return {deal_id: draft.freeze() for deal_id, draft in drafts.items()}
