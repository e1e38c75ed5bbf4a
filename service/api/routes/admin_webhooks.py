"""`/v1/admin/webhooks/inbox`: authenticated vendor payloads that mapped to no event, and their
replay once the mapping is fixed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from service.api.deps import ServicesDep
from service.api.http.problems import Problem
from service.api.security.auth import AdminKey
from service.application.services import Services
from service.webhooks.context import ledger_lookup
from service.webhooks.inbox import InboxItem
from service.webhooks.replay import InboxReplay, Replayed

router = APIRouter(prefix="/v1/admin/webhooks", tags=["admin"])


class InboxItemModel(BaseModel):
    """One kept payload and why no event was made of it."""

    id: int
    vendor: str
    key: str = Field(description="The delivery's dedupe key: a replay is kept only once.")
    reason: str
    payload: Any
    received_at: datetime
    replayed_at: datetime | None = Field(default=None, description="When it was last replayed.")
    mapped_at: datetime | None = Field(
        default=None, description="When a replay stored its events; it is not replayed again."
    )


class InboxPage(BaseModel):
    """A page of the inbox; ask again with `after=next_after` for more."""

    items: list[InboxItemModel]
    next_after: int


@router.get("/inbox", response_model=InboxPage, summary="The webhook inbox")
async def read_inbox(
    services: ServicesDep,
    _key: AdminKey,
    vendor: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,80}$", description="Only this vendor.")
    ] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="Items after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InboxPage:
    """Unmapped or invalid vendor payloads, oldest first; they are never counted."""
    items = await services.inbox.list(vendor=vendor, after=after, limit=limit)
    return InboxPage(
        items=[
            InboxItemModel(
                id=i.id,
                vendor=i.vendor,
                key=i.key,
                reason=i.reason,
                payload=i.payload,
                received_at=i.received_at,
                replayed_at=i.replayed_at,
                mapped_at=i.mapped_at,
            )
            for i in items
        ],
        next_after=items[-1].id if items else after,
    )


_VENDOR = Query(pattern=r"^[A-Za-z0-9._:-]{1,80}$", description="Only this vendor.")


class ReplayedItem(BaseModel):
    """What a replay made of one item: its events (`mapped`), or why it still waits (`inbox`)."""

    id: int
    vendor: str
    key: str
    status: Literal["mapped", "inbox"]
    reason: str | None
    results: list[dict[str, Any]] = Field(
        description="Each event stored: `{source, id, status, position}`, `status` being "
        "`created`, or `duplicate` when an earlier replay or delivery stored it."
    )


class ReplayReport(BaseModel):
    """The items replayed, oldest first."""

    replayed: int
    mapped: int
    items: list[ReplayedItem]


async def _replay(services: Services, items: list[InboxItem], key_name: str) -> ReplayReport:
    lookup = ledger_lookup(services.reader)
    replay = InboxReplay(services.appender, services.inbox, services.webhooks, lookup)
    done: list[Replayed] = await replay.replay(items, f"replay:{key_name}")
    return ReplayReport(
        replayed=len(done),
        mapped=sum(1 for r in done if r.status == "mapped"),
        items=[
            ReplayedItem(
                id=r.id,
                vendor=r.vendor,
                key=r.key,
                status=r.status,
                reason=r.reason,
                results=r.results,
            )
            for r in done
        ],
    )


@router.post("/inbox/replay", response_model=ReplayReport, summary="Replay the webhook inbox")
async def replay_inbox(
    services: ServicesDep,
    key: AdminKey,
    vendor: Annotated[str | None, _VENDOR] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Replay at most this many.")] = 500,
) -> ReplayReport:
    """Map the items still waiting again, with the mapping as it is now; idempotent."""
    items = await services.inbox.waiting(vendor=vendor, limit=limit)
    return await _replay(services, items, key.name)


@router.post(
    "/inbox/{item_id}/replay", response_model=ReplayReport, summary="Replay one inbox item"
)
async def replay_inbox_item(
    services: ServicesDep,
    key: AdminKey,
    item_id: Annotated[int, Path(ge=1, le=2**62)],
) -> ReplayReport:
    """Map one kept item again, with the mapping as it is now; idempotent."""
    item = await services.inbox.get(item_id)
    if item is None:
        raise Problem(
            404, "inbox-item-not-found", f"there is no inbox item {item_id}", title="Not found"
        )
    return await _replay(services, [item], key.name)
