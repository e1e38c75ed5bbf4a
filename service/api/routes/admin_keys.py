"""`/v1/admin/keys`: the API key lifecycle — list, create, rotate with overlap, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from service.api.deps import ServicesDep
from service.api.http.problems import Problem
from service.api.security.auth import AdminKey
from service.api.security.key_first_route import KeyFirstRoute
from service.durations import DURATION_PATTERN, parse_duration
from service.events.instants import check_range, parse_date_time
from service.keys.api_keys import ApiKey, KeyNotRotatable, KeyStatus, Scope

# The key is checked before a body is read: an anonymous client gets 401, never a parse.
router = APIRouter(prefix="/v1/admin/keys", tags=["admin"], route_class=KeyFirstRoute)

KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="The key id (`keys list`).")]
KeyName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _instant(value: object) -> datetime:
    # RFC 3339 text in the accepted range only: pydantic alone would take week dates, numbers
    # of seconds and years up to 9999, which PostgreSQL may store as `infinity`.
    if not isinstance(value, str):
        raise ValueError("expires_at must be an RFC 3339 date-time string")  # noqa: TRY004
    return check_range(parse_date_time(value), value)


def _in_future(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("expires_at must lie in the future")
    return value


FutureInstant = Annotated[
    datetime,
    BeforeValidator(_instant),
    AfterValidator(_in_future),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class KeyModel(BaseModel):
    """A key as an administrator sees it: never its secret."""

    key_id: str
    name: str
    scopes: list[str]
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    replaced_by: str | None


class KeyList(BaseModel):
    """Every key, newest first."""

    keys: list[KeyModel]


class NewKey(BaseModel):
    """What a new key is for and what it may do."""

    model_config = ConfigDict(extra="forbid")

    name: KeyName
    scopes: list[Scope] = Field(min_length=1)
    expires_at: FutureInstant | None = None


class Rotate(BaseModel):
    """How long the old key stays valid beside its successor, and the successor's expiry."""

    model_config = ConfigDict(extra="forbid")

    overlap: str = Field(default="24h", pattern=DURATION_PATTERN, examples=["24h", "30m", "7d"])
    expires_at: FutureInstant | None = None

    @field_validator("overlap")
    @classmethod
    def _readable(cls, value: str) -> str:
        parse_duration(value)
        return value


class IssuedKeyModel(BaseModel):
    """A new key and its token: shown in this answer only, never again."""

    key: KeyModel
    token: str


class Rotation(BaseModel):
    """The old key (valid until its `expires_at`), its successor and the successor's token."""

    old: KeyModel
    new: KeyModel
    token: str


def _model(key: ApiKey) -> KeyModel:
    return KeyModel(
        key_id=key.key_id,
        name=key.name,
        scopes=sorted(key.scopes),
        status=key.status_at(datetime.now(UTC)),
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        replaced_by=key.replaced_by,
    )


def _not_found(key_id: str) -> Problem:
    return Problem(404, "key-not-found", f"there is no key {key_id!r}", title="Key not found")


@router.get("", response_model=KeyList, summary="List keys")
async def list_keys(services: ServicesDep, _key: AdminKey) -> KeyList:
    """Every key with its scopes, status, expiry and last use; never a secret."""
    return KeyList(keys=[_model(key) for key in await services.keys.list()])


@router.post("", response_model=IssuedKeyModel, status_code=201, summary="Create a key")
async def create_key(body: NewKey, services: ServicesDep, _key: AdminKey) -> IssuedKeyModel:
    """A new key; its token is in this answer only."""
    issued = await services.keys.create(body.name, frozenset(body.scopes), body.expires_at)
    return IssuedKeyModel(key=_model(issued.key), token=issued.token)


@router.get("/{key_id}", response_model=KeyModel, summary="One key")
async def get_key(key_id: KeyId, services: ServicesDep, _key: AdminKey) -> KeyModel:
    """One key's scopes, status, expiry and last use."""
    key = await services.keys.get(key_id)
    if key is None:
        raise _not_found(key_id)
    return _model(key)


@router.post("/{key_id}/rotate", response_model=Rotation, status_code=201, summary="Rotate a key")
async def rotate_key(
    key_id: KeyId, services: ServicesDep, _key: AdminKey, body: Rotate | None = None
) -> Rotation:
    """Issue a successor; the old key keeps working until the overlap ends (409 if it can't)."""
    request = body or Rotate()
    try:
        rotated = await services.keys.rotate(
            key_id, parse_duration(request.overlap), request.expires_at
        )
    except KeyNotRotatable as exc:
        raise Problem(409, "key-not-rotatable", str(exc), title="Key cannot be rotated") from exc
    if rotated is None:
        raise _not_found(key_id)
    old, issued = rotated
    return Rotation(old=_model(old), new=_model(issued.key), token=issued.token)


@router.post("/{key_id}/revoke", response_model=KeyModel, summary="Revoke a key")
async def revoke_key(key_id: KeyId, services: ServicesDep, _key: AdminKey) -> KeyModel:
    """Revoke a key at once (revoking a revoked key changes nothing)."""
    await services.keys.revoke(key_id)
    key = await services.keys.get(key_id)
    if key is None:
        raise _not_found(key_id)
    return _model(key)
