"""Response models of the read endpoints, as BI tools see them in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DealStateModel(BaseModel):
    """A deal at (`as_of`, `known_at`): contract §4."""

    deal_id: str
    stage: str | None
    owner_rep_id: str | None
    account: dict[str, Any] | None
    channel: str | None
    amount: str | None
    currency: str | None
    eb: dict[str, Any] | None
    stage_entered_at: str | None
    first_event_at: str
    last_event_at: str
    fsi_visits: int
    fua_visits: int
    calls: int
    version: int


class DealResponse(DealStateModel):
    """A deal's state with the instants it answers for."""

    as_of: str
    known_at: str
    position: int = Field(description="The newest log position this answer reflects.")


class DealPage(BaseModel):
    """A page of deals; pass `after=next_after` for the next one."""

    as_of: str
    known_at: str
    position: int
    deals: list[DealStateModel]
    next_after: str | None


class RetractedBy(BaseModel):
    """The retraction that removed an event."""

    source: str
    id: str
    position: int


class DealEvent(BaseModel):
    """One event of a deal's stream."""

    id: str
    source: str
    type: str
    subject: str
    time: str
    data: dict[str, Any]
    position: int
    stream_version: int
    recorded_at: str
    retracted: bool
    retracted_by: RetractedBy | None


class DealEvents(BaseModel):
    """A deal's events in `occurred_at` order as known at `known_at`."""

    deal_id: str
    known_at: str
    events: list[DealEvent]


class OpenModel(BaseModel):
    """Deals open at the end of the period."""

    leads: int
    opportunities: int
    committed_deals: int


class ConversionModel(BaseModel):
    """Flow ratios between consecutive stages (null when nothing to convert)."""

    lead_to_opportunity: float | None
    opportunity_to_committed: float | None
    committed_to_closed: float | None


class NumbersModel(BaseModel):
    """The five numbers with visits split, closed value per currency and open deals."""

    closed_deals: int
    committed_deals: int
    opportunities: int
    leads: int
    client_visits: int
    fsi_visits: int
    fua_visits: int
    calls: int = Field(description="Outbound calls (`call.logged`), credited to the event's rep.")
    connected_calls: int = Field(
        description="The calls whose outcome is a connected one (answered, connected, reached; "
        "ignoring case)."
    )
    talk_time_s: int = Field(description="The connected calls' `duration_s`, summed (seconds).")
    closed_value: dict[str, str]
    open: OpenModel
    conversion: ConversionModel
    fsi_share: float | None
    targets: dict[str, float] = Field(
        description="Per metric with a target: the target in force at the period's start, "
        "scaled to the period (docs/targets.md)."
    )
    attainment: dict[str, float | None] = Field(description="Per target: actual ÷ target.")
    priorities: list[str] | None = Field(
        description="The team's metrics, most important first, at the period's start."
    )


class RowModel(NumbersModel):
    """One scoreboard row: a rep, a team, null (no one) or "all"."""

    key: str | None
    rep_name: str | None = Field(
        default=None,
        description="Rows by rep only: the rep's name at the period's end (rep.profile_set), "
        "null when none is known.",
    )
    account_name: str | None = Field(
        default=None,
        description="Rows by account only: the account's name on the latest lead.sourced of "
        "its deals by the period's end; null for the key null (deals without an account).",
    )


class ScoreboardModel(BaseModel):
    """The scoreboard of [from, to) as known at `known_at`: contract §6."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    known_at: str
    group_by: str
    working_days: float | None = Field(
        default=None,
        description="The period's working days in the company calendar (FUNNEL_WORKWEEK and "
        "calendar.day_set; a partly covered day pro rata), rounded to 4 decimals.",
    )
    rows: list[RowModel]
    totals: NumbersModel
    position: int


class SeriesPeriodModel(BaseModel):
    """The scoreboard of one sub-period [from, to)."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    working_days: float | None = Field(
        default=None,
        description="The period's working days in the company calendar (FUNNEL_WORKWEEK and "
        "calendar.day_set; a partly covered day pro rata), rounded to 4 decimals.",
    )
    rows: list[RowModel]
    totals: NumbersModel


class ScoreboardSeriesModel(BaseModel):
    """One scoreboard per day, week or month of [from, to), from one snapshot."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    interval: str
    group_by: str
    known_at: str
    position: int
    periods: list[SeriesPeriodModel]


class StagesModel(BaseModel):
    """Deals per stage."""

    lead: int
    opportunity: int
    eb_committed: int
    committed: int
    won: int
    lost: int
    disqualified: int


class FunnelModel(BaseModel):
    """The funnel at (`as_of`, `known_at`): contract §6."""

    as_of: str
    known_at: str
    rep_id: str | None
    stages: StagesModel
    position: int


class AccountModel(NumbersModel):
    """One account (docs/accounts.md): its key-account mark at `as_of`, the period's numbers
    credited to it (its row of the scoreboard by account) and its last contact by `as_of`."""

    key: str = Field(description="`account.id` where its deals carry one, else its name.")
    name: str
    key_account: bool = Field(description="Marked a key account at `as_of` (account.key_set).")
    note: str | None = Field(description="The note of the mark in force at `as_of`.")
    deals: int = Field(description="Deals that belong to the account at `as_of`.")
    last_contact_at: str | None = Field(
        description="The latest counting visit or call of its deals by `as_of`."
    )
    days_since_contact: int | None = Field(
        description="Whole days (24 hours) from `last_contact_at` to `as_of`."
    )


class AccountsModel(BaseModel):
    """Every account at (`as_of`, `known_at`), key accounts first, then by name."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    as_of: str
    known_at: str
    accounts: list[AccountModel]
    position: int


class AccountDealModel(BaseModel):
    """One of an account's deals at `as_of`."""

    deal_id: str
    stage: str | None
    owner_rep_id: str | None
    amount: str | None
    currency: str | None
    stage_entered_at: str | None
    last_event_at: str | None


class ContactModel(BaseModel):
    """A visit or a call with one of an account's deals."""

    occurred_at: str
    deal_id: str
    type: str = Field(description="The event type: a client visit or a logged call.")
    kind: str = Field(description="A visit's kind (FSI, FUA) or a call's direction.")
    rep_id: str


class AccountDetailModel(AccountModel):
    """One account with its deals at `as_of` and its latest contacts (at most 10)."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    as_of: str
    known_at: str
    deal_list: list[AccountDealModel]
    contacts: list[ContactModel]
    position: int
