"""`/v1/admin/webhooks/inbox`: authenticated vendor payloads that mapped to no event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from service.api.auth import AdminKey
from service.api.deps import ServicesDep

router = APIRouter(prefix="/v1/admin/webhooks", tags=["admin"])


class InboxItemModel(BaseModel):
    """One kept payload and why no event was made of it."""

    id: int
    vendor: str
    key: str = Field(description="The delivery's dedupe key: a replay is kept only once.")
    reason: str
    payload: Any
    received_at: datetime


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
            )
            for i in items
        ],
        next_after=items[-1].id if items else after,
    )
