"""The contract's event vocabulary: one frozen data model per event type, and their registry.

Each model validates the CloudEvents `data` of one `type`. Models are facts in the past tense;
the registry maps the contract's type strings to them explicitly.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from service.events.money import Amount, Currency
from service.events.text import LongId, Note, ShortId, Text, name_text

RepId = ShortId


class SubjectKind(StrEnum):
    """Which kind of stream an event type belongs to."""

    DEAL = "deal"
    REP = "rep"
    TEAM = "team"
    REP_OR_TEAM = "rep_or_team"
    ACCOUNT = "account"
    CALENDAR = "calendar"
    ANY = "any"


class EventData(BaseModel):
    """Base of every event's data: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DealEventData(EventData):
    """Data of an event on a deal stream: it always names the rep who acted."""

    rep_id: RepId


class Account(EventData):
    """The prospect's company; `id` is the CRM's account id, the account's key when given."""

    name: Text
    id: ShortId | None = None
    industry: Text | None = None
    size: (
        Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(name_text)]
        | Annotated[int, Field(ge=0, le=2**53 - 1, strict=True)]
        | None
    ) = None


class Eb(EventData):
    """The economic buyer: the person who can approve the budget."""

    name: Text
    title: Text | None = None


class LeadSourced(DealEventData):
    """A new lead entered the funnel."""

    account: Account
    channel: Literal[
        "web", "trade_show", "referral", "cold_call", "email", "linkedin", "event", "other"
    ]


class LeadContacted(DealEventData):
    """Someone at the prospect was contacted."""

    method: Literal["call", "email", "visit", "intro", "chat", "other"]
    contact_role: Literal["eb", "influencer", "other"] | None = None


class VisitCompleted(DealEventData):
    """A client visit took place: a first sales introduction (FSI) or a follow-up (FUA)."""

    kind: Literal["FSI", "FUA"]


class CallLogged(DealEventData):
    """A phone call with the prospect was logged."""

    direction: Literal["outbound", "inbound"]
    duration_s: Annotated[int, Field(ge=0, le=7 * 24 * 3600, strict=True)]
    outcome: Text | None = None


class DealQualified(DealEventData):
    """The lead became an opportunity with an estimated amount."""

    amount: Amount
    currency: Currency
    expected_close: date | None = None


class DealDisqualified(DealEventData):
    """The lead or deal was found not to be a real opportunity."""

    reason: Note


class EbCommitted(DealEventData):
    """The economic buyer committed to the deal."""

    eb: Eb


class EbDeparted(DealEventData):
    """The economic buyer left before the committee approved."""


class CommitteeApproved(DealEventData):
    """The client's committee formally approved the deal."""


class ContractSigned(DealEventData):
    """The contract was signed: the deal is won."""

    amount: Amount
    currency: Currency
    contract_id: LongId


class DealLost(DealEventData):
    """The deal was lost."""

    reason: Note
    competitor: Text | None = None


class DealReassigned(DealEventData):
    """The deal was handed to another rep; `rep_id` is who reassigned it."""

    to_rep_id: RepId


class AmountRevised(DealEventData):
    """The deal's expected amount was revised."""

    amount: Amount
    currency: Currency


class EventRetracted(EventData):
    """An earlier event of the same stream is to be treated as never having happened."""

    event_source: LongId
    event_id: LongId
    reason: Note
    rep_id: RepId | None = None


class RepTeamAssigned(EventData):
    """A rep belongs to a team from the event's time on (subject `rep:<rep_id>`)."""

    team_id: ShortId
    rep_id: RepId | None = None


Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"),
    AfterValidator(name_text),
]
"""An e-mail address: one line, something before and after a single `@`, at most 254."""


class RepProfileSet(EventData):
    """A rep's name, e-mail and whether they are active, from the event's time on."""

    name: Text
    email: Email | None = None
    active: Annotated[bool, Field(strict=True)] = True


class AccountKeySet(EventData):
    """An account is marked (or unmarked) a key account from the event's time on.

    Written to a subject `account:<…>`; `account` is the account's key: the CRM's account id
    where deals carry one (`lead.sourced`'s `account.id`), else the account's name.
    """

    account: Text
    key: Annotated[bool, Field(strict=True)]
    note: Note | None = None


Metric = Literal[
    "closed_deals", "committed_deals", "opportunities", "leads", "client_visits", "calls"
]
"""One of the five numbers, or outbound calls (contract §5)."""


class TargetSet(EventData):
    """A rep's or team's target for one of the five numbers per period, from its time on."""

    metric: Metric
    period: Literal["day", "week", "month", "quarter"]
    value: Amount


class TeamPrioritiesSet(EventData):
    """The numbers a team watches most, most important first, from the event's time on."""

    metrics: Annotated[list[Metric], Field(min_length=1, max_length=6)]

    @field_validator("metrics")
    @classmethod
    def _distinct(cls, metrics: list[Metric]) -> list[Metric]:
        if len(set(metrics)) != len(metrics):
            raise ValueError("each metric may appear only once")
        return metrics


class CalendarDaySet(EventData):
    """A date of the company calendar is declared a working day or not (subject `calendar:company`).

    A holiday is a usual working day declared not working; a make-up working day is a usual day
    off declared working. The latest declaration of a date wins (docs/targets.md).
    """

    date: date
    working: Annotated[bool, Field(strict=True)]
    name: Text | None = None


class EventType(BaseModel):
    """One entry of the registry: the data model and the kind of subject it is written to."""

    model_config = ConfigDict(frozen=True)

    name: str
    model: type[EventData]
    subject_kind: SubjectKind


def _entry(name: str, model: type[EventData], kind: SubjectKind) -> tuple[str, EventType]:
    return name, EventType(name=name, model=model, subject_kind=kind)


EVENT_TYPES: dict[str, EventType] = dict(
    [
        _entry("lead.sourced", LeadSourced, SubjectKind.DEAL),
        _entry("lead.contacted", LeadContacted, SubjectKind.DEAL),
        _entry("visit.completed", VisitCompleted, SubjectKind.DEAL),
        _entry("call.logged", CallLogged, SubjectKind.DEAL),
        _entry("deal.qualified", DealQualified, SubjectKind.DEAL),
        _entry("deal.disqualified", DealDisqualified, SubjectKind.DEAL),
        _entry("deal.eb_committed", EbCommitted, SubjectKind.DEAL),
        _entry("deal.eb_departed", EbDeparted, SubjectKind.DEAL),
        _entry("deal.committee_approved", CommitteeApproved, SubjectKind.DEAL),
        _entry("deal.contract_signed", ContractSigned, SubjectKind.DEAL),
        _entry("deal.lost", DealLost, SubjectKind.DEAL),
        _entry("deal.reassigned", DealReassigned, SubjectKind.DEAL),
        _entry("deal.amount_revised", AmountRevised, SubjectKind.DEAL),
        _entry("event.retracted", EventRetracted, SubjectKind.ANY),
        _entry("rep.team_assigned", RepTeamAssigned, SubjectKind.REP),
        _entry("rep.profile_set", RepProfileSet, SubjectKind.REP),
        _entry("target.set", TargetSet, SubjectKind.REP_OR_TEAM),
        _entry("team.priorities_set", TeamPrioritiesSet, SubjectKind.TEAM),
        _entry("account.key_set", AccountKeySet, SubjectKind.ACCOUNT),
        _entry("calendar.day_set", CalendarDaySet, SubjectKind.CALENDAR),
    ]
)
"""The contract's event types, by their CloudEvents `type`."""

RETRACTION = "event.retracted"
TEAM_ASSIGNMENT = "rep.team_assigned"
PROFILE_SET = "rep.profile_set"
TARGET_SET = "target.set"
PRIORITIES_SET = "team.priorities_set"
ACCOUNT_KEY_SET = "account.key_set"
CALENDAR_DAY_SET = "calendar.day_set"
LEAD_SOURCED = "lead.sourced"
CALL_LOGGED = "call.logged"
REP_SUBJECT_PREFIX = "rep:"
TEAM_SUBJECT_PREFIX = "team:"
ACCOUNT_SUBJECT_PREFIX = "account:"
CALENDAR_SUBJECT_PREFIX = "calendar:"
COMPANY_CALENDAR = "calendar:company"
"""The one calendar stream: the company's working days."""
NON_DEAL_PREFIXES = (
    REP_SUBJECT_PREFIX,
    TEAM_SUBJECT_PREFIX,
    ACCOUNT_SUBJECT_PREFIX,
    CALENDAR_SUBJECT_PREFIX,
)
"""Subjects with these prefixes are rep, team, account or calendar streams, never deals."""


def data_model_for(event_type: str) -> type[EventData] | None:
    """The data model of a contract event type, or None for an unknown type."""
    entry = EVENT_TYPES.get(event_type)
    return entry.model if entry else None
