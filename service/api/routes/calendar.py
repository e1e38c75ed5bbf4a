"""`/v1/calendar`: a period's working days and the declared holidays and make-up days in it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from service.api.deps import ServicesDep
from service.api.http.longest_span import bounded_period
from service.api.http.period_query import (
    ConsistencyParam,
    From,
    KnownAt,
    MinPosition,
    Period,
    To,
)
from service.api.http.time_params import known_at_or_now
from service.api.security.auth import ReaderKey
from service.application.plans import read_plan
from service.projections.attainment import working_weights
from service.projections.rules import just_before
from service.projections.workdays import WorkCalendar, calendar_at, declarations_at
from service.settings import WEEKDAY_NAMES
from service.store.chain.hashing import iso

router = APIRouter(prefix="/v1/calendar", tags=["targets"])


class DeclaredDay(BaseModel):
    """A date the company calendar declares working or not."""

    date: str
    working: bool
    name: str | None
    declared_at: str = Field(description="The declaration's `time`.")


class CalendarResponse(BaseModel):
    """The working days of [from, to) as the scoreboard counts them, and the declared dates."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    known_at: str
    position: int
    workweek: list[str] = Field(description="The usual working weekdays (FUNNEL_WORKWEEK).")
    working_days: float = Field(description="As the scoreboard's `working_days` for [from, to).")
    days: list[DeclaredDay] = Field(
        description="The declared dates of the period in force at its end, in date order."
    )


@router.get("", response_model=CalendarResponse, summary="Working days of a period")
async def get_calendar(
    services: ServicesDep,
    _key: ReaderKey,
    from_: From = None,
    to: To = None,
    period_: Period = None,
    known_at: KnownAt = None,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> dict[str, Any]:
    """The company calendar of [from, to) as known at `known_at` (docs/targets.md)."""
    settings = services.settings
    start, end = bounded_period(settings, from_, to, period_)
    known = known_at_or_now(settings, known_at)
    plan = await read_plan(
        services, known_at=known, min_position=min_position, consistency=consistency
    )
    last = just_before(end)
    workweek = settings.workweek_days
    calendar: WorkCalendar = calendar_at(plan.answer, last, workweek)
    weights = working_weights(start, end, settings.zone, calendar)
    first_day, last_day = start.astimezone(settings.zone).date(), last.astimezone(settings.zone)
    declared = declarations_at(plan.answer, last)
    days = [
        {
            "date": day.isoformat(),
            "working": entry.working,
            "name": entry.name,
            "declared_at": iso(entry.valid_from),
        }
        for day, entry in sorted(declared.items())
        if first_day <= day <= last_day.date()
    ]
    return {
        "from": iso(start),
        "to": iso(end),
        "known_at": iso(known),
        "position": plan.position,
        "workweek": [name for number, name in enumerate(WEEKDAY_NAMES) if number in workweek],
        "working_days": float(round(weights["day"], 4)),
        "days": days,
    }
