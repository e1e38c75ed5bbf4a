"""`/v1/targets`: the targets and team priorities in force at (`as_of`, `known_at`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.deps import ServicesDep
from service.api.http.period_query import AsOf, ConsistencyParam, KnownAt, MinPosition
from service.api.http.time_params import as_of_or_now, known_at_or_now
from service.api.security.auth import ReaderKey
from service.application.plans import read_plan
from service.projections.targets import Plan, priorities_entry_at, target_at
from service.store.chain.hashing import iso

router = APIRouter(prefix="/v1/targets", tags=["targets"])


class TargetModel(BaseModel):
    """A target in force: per `period`, for `metric`, set for `subject` (rep:… or team:…)."""

    subject: str
    metric: str
    period: str
    value: str
    valid_from: str


class PrioritiesModel(BaseModel):
    """A team's metrics, most important first."""

    team_id: str
    metrics: list[str]
    valid_from: str


class TargetsResponse(BaseModel):
    """Every target and priority list in force at `as_of`, as known at `known_at`."""

    as_of: str
    known_at: str
    position: int
    targets: list[TargetModel]
    priorities: list[PrioritiesModel]


def _in_force(known: Plan, at: datetime) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    targets = []
    for subject, metric in sorted(known.targets):
        target = target_at(known, subject, metric, at)
        if target is not None:
            targets.append(
                {
                    "subject": subject,
                    "metric": metric,
                    "period": target.period,
                    "value": format(target.value, "f"),
                    "valid_from": iso(target.valid_from),
                }
            )
    priorities = []
    for team_id in sorted(known.priorities):
        entry = priorities_entry_at(known, team_id, at)
        if entry is not None:
            priorities.append(
                {
                    "team_id": team_id,
                    "metrics": list(entry.metrics),
                    "valid_from": iso(entry.valid_from),
                }
            )
    return targets, priorities


@router.get("", response_model=TargetsResponse, summary="Targets and priorities")
async def get_targets(
    services: ServicesDep,
    _key: ReaderKey,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> dict[str, Any]:
    """The targets (`target.set`) and priorities (`team.priorities_set`) in force at `as_of`."""
    settings = services.settings
    at, known = as_of_or_now(settings, as_of), known_at_or_now(settings, known_at)
    plan = await read_plan(
        services, known_at=known, min_position=min_position, consistency=consistency
    )
    position = plan.position
    targets, priorities = _in_force(plan.answer, at)
    return {
        "as_of": iso(at),
        "known_at": iso(known),
        "position": position,
        "targets": targets,
        "priorities": priorities,
    }
