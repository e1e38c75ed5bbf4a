"""Response models of the `/v1/audit` endpoints, as auditors see them in the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from service.api.schemas.reads import NumbersModel, RowModel


class DifferenceModel(BaseModel):
    """A row (or the totals) on which the replay and the read models disagree, side by side."""

    scope: Literal["row", "totals"]
    key: str | None = Field(description="The rep of the row; null for the totals (or no rep).")
    fields: list[str] = Field(description="The fields that differ, e.g. `open.leads`.")
    replay: NumbersModel | None = Field(description="Recomputed from the raw events.")
    projection: NumbersModel | None = Field(description="Read from the read models.")


class ReplayModel(BaseModel):
    """A period's scoreboard recomputed from the raw events alone: contract §6."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    known_at: str
    group_by: Literal["rep"]
    period: str | None = Field(description="The `period` shortcut asked for, if any.")
    rows: list[RowModel]
    totals: NumbersModel
    events_considered: int = Field(
        description="How many events the replay read: the period's events (docs/audit.md)."
    )
    events_folded: int = Field(
        description="How many of them were folded: the events of the deal streams not settled "
        "before the period (a deal signed, lost or disqualified before it, and not moved "
        "since, adds nothing to it; docs/audit.md)."
    )
    retractions: int = Field(description="How many of them are retractions.")
    digest: str = Field(
        description="SHA-256 (hex) over the considered events' 32-byte chain hashes, in "
        "position order."
    )
    projection_matches: bool | None = Field(
        description="Whether the read models give the same scoreboard; null if they lag."
    )
    differences: list[DifferenceModel]
    position: int = Field(description="The read models' position when compared.")


class ChainBreakModel(BaseModel):
    """Where the chain first breaks, and why."""

    position: int
    reason: Literal[
        "position_gap",
        "hash_mismatch",
        "broken_link",
        "swapped_rows",
        "inserted_row",
        "moved_row",
        "time_reversal",
        "anchor_mismatch",
        "truncated",
    ]
    detail: str


class OutOfRangeModel(BaseModel):
    """Stored events whose time lies outside the accepted range: never counted."""

    count: int = Field(description="How many there are among the verified events.")
    positions: list[int] = Field(description="The first 100 of their positions.")


class VerifyModel(BaseModel):
    """The hash chain recomputed from the stored events."""

    ok: bool
    head_position: int = Field(description="The newest position in the log.")
    verified_through: int = Field(description="The last position whose link held.")
    head_hash: str | None = Field(
        description="The hash at `head_position` when every link held: keep it as an anchor."
    )
    first_break: ChainBreakModel | None
    out_of_range: OutOfRangeModel = Field(
        description="Events stored by an earlier version with a time outside 1900-01-01 to "
        "2200-01-01 (docs/security.md): kept in the log and its chain, never counted."
    )


class PeriodModel(BaseModel):
    """A period [from, to)."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str


class AuditRequestModel(BaseModel):
    """One logged audit request."""

    id: int
    requested_at: str
    completed_at: str | None = Field(description="Null for an export still (or never) finished.")
    key_id: str | None = Field(description="The API key used; null from the command line.")
    actor: str
    endpoint: str
    period: PeriodModel | None
    known_at: str | None
    digest: str | None
    result: dict[str, Any]


class AuditRequestPage(BaseModel):
    """Audit requests, newest first; pass `before=next_before` for older ones."""

    requests: list[AuditRequestModel]
    next_before: int | None
