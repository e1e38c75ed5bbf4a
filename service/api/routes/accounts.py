"""`/v1/accounts`: the accounts, key accounts first, with their numbers, deals and contacts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from service.api.deps import ServicesDep
from service.api.http.longest_span import bounded_period
from service.api.http.problems import Problem
from service.api.http.tabular import BOM, BomParam, csv_lines
from service.api.http.time_params import instant, known_at_or_now
from service.api.schemas.reads import AccountDetailModel, AccountsModel
from service.api.security.auth import ReaderKey
from service.application.accounts import read_account, read_accounts
from service.application.consistent_reads import Consistency
from service.projections.rules import just_before
from service.settings import Settings
from service.store.chain.hashing import iso

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

From = Annotated[str | None, Query(alias="from", description="Start (a date: 00:00).")]
To = Annotated[str | None, Query(description="End, excluded (a date: 00:00).")]
Period = Annotated[str | None, Query(alias="period", description="2026-Q1, 2026-03, 2026-W10")]
AsOf = Annotated[
    str | None,
    Query(
        description="Valid time of the marks, the deals and the last contacts: a date (its end) "
        "or a date-time; default the period's end, or now if that is later."
    ),
]
KnownAt = Annotated[str | None, Query(description="Transaction time; default now.")]
MinPosition = Annotated[int | None, Query(ge=0, description="Wait until this is projected.")]
ConsistencyParam = Annotated[Consistency, Query(description="strong: wait for all acknowledged")]
AccountKey = Annotated[
    str, Path(min_length=1, max_length=512, description="`account.id`, else `account.name`.")
]
CSV_COLUMNS = (
    "key",
    "name",
    "key_account",
    "note",
    "deals",
    "closed_deals",
    "committed_deals",
    "opportunities",
    "leads",
    "client_visits",
    "fsi_visits",
    "fua_visits",
    "open_leads",
    "open_opportunities",
    "open_committed_deals",
    "last_contact_at",
    "days_since_contact",
)


def _as_of(settings: Settings, value: str | None, end: datetime) -> datetime:
    """`as_of`, else the period's last instant, or now when the period has not ended yet."""
    given = instant(settings, "as_of", value, end_of_date=True)
    return given if given is not None else min(just_before(end), datetime.now(UTC))


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _csv_row(account: dict[str, Any]) -> dict[str, Any]:
    opened = account["open"]
    return {
        **account,
        "key_account": "true" if account["key_account"] else "false",
        "open_leads": opened["leads"],
        "open_opportunities": opened["opportunities"],
        "open_committed_deals": opened["committed_deals"],
    }


@router.get(
    "",
    response_model=AccountsModel,
    summary="Accounts, key accounts first",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_accounts(
    request: Request,
    services: ServicesDep,
    _key: ReaderKey,
    from_: From = None,
    to: To = None,
    period_: Period = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    format_: Annotated[str | None, Query(alias="format", pattern="^(json|csv)$")] = None,
    bom: BomParam = False,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> Any:
    """Every account at (`as_of`, `known_at`): key accounts first, then by name, each with the
    numbers of [from, to) credited to it and the days since its last visit or call."""
    settings = services.settings
    start, end = bounded_period(settings, from_, to, period_)
    known = known_at_or_now(settings, known_at)
    at = _as_of(settings, as_of, end)
    read = await read_accounts(
        services,
        start=start,
        end=end,
        as_of=at,
        known_at=known,
        min_position=min_position,
        consistency=consistency,
    )
    headers = {"X-Funnel-Position": str(read.position)}
    accounts = [summary.to_json() for summary in read.answer]
    if _wants_csv(request, format_):
        text = csv_lines(CSV_COLUMNS, map(_csv_row, accounts), header=True)
        return Response(
            (BOM if bom else "") + text, media_type="text/csv; charset=utf-8", headers=headers
        )
    body = {
        "from": iso(start),
        "to": iso(end),
        "as_of": iso(at),
        "known_at": iso(known),
        "accounts": accounts,
        "position": read.position,
    }
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


@router.get("/{key:path}", response_model=AccountDetailModel, summary="One account")
async def get_account(
    key: AccountKey,
    services: ServicesDep,
    _key: ReaderKey,
    from_: From = None,
    to: To = None,
    period_: Period = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> Response:
    """The account `key` at (`as_of`, `known_at`): its numbers of [from, to), its deals with
    stage and owner, and its latest contacts; 404 when no deal, number or mark knows it then."""
    settings = services.settings
    start, end = bounded_period(settings, from_, to, period_)
    known = known_at_or_now(settings, known_at)
    at = _as_of(settings, as_of, end)
    read = await read_account(
        services,
        key,
        start=start,
        end=end,
        as_of=at,
        known_at=known,
        min_position=min_position,
        consistency=consistency,
    )
    if read.answer is None:
        raise Problem(
            404,
            "account-not-found",
            f"no deal, number or key mark knows the account {key!r} then",
            title="Account not found",
        )
    body = {
        **read.answer.to_json(),
        "from": iso(start),
        "to": iso(end),
        "as_of": iso(at),
        "known_at": iso(known),
        "position": read.position,
    }
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"X-Funnel-Position": str(read.position)},
    )
