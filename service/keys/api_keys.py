"""API keys: created once and shown once, stored only as SHA-256 hashes of their secret."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.instants import as_stored

KEY_PREFIX = "fl"
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_KEY_ID = re.compile(r"[0-9a-f]{16}")
"""What `_insert` makes: a token naming any other key id is refused without a lookup."""
_NO_SECRET_HASH = hashlib.sha256(b"no such key").digest()
"""Compared against when there is no stored hash, so that an unknown key id costs what a known
one with a wrong secret does (no answer tells them apart by its time)."""
ABSENT_CAPACITY = 10_000
"""Unknown key ids remembered at most: a flood of random ids cannot grow the memory beyond."""
KeyStatus = Literal["active", "rotating", "expired", "revoked"]


class Scope(StrEnum):
    """What a key may do. `admin` may do everything."""

    EVENTS_WRITE = "events:write"
    READ = "read"
    AUDIT = "audit"
    METRICS = "metrics"  # /metrics and the detail of /readyz: a scraper's key
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    replaced_by: str | None = None

    def allows(self, scope: Scope) -> bool:
        """Whether the key carries `scope` (or `admin`)."""
        return scope in self.scopes or Scope.ADMIN in self.scopes

    def usable_at(self, now: datetime) -> bool:
        """Whether the key is neither revoked nor expired at `now`."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now

    def status_at(self, now: datetime) -> KeyStatus:
        """`revoked`, `expired`, `rotating` (replaced, valid until its overlap ends) or `active`."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "rotating" if self.replaced_by else "active"


class Recall(Enum):
    """Why a token cannot be judged from memory: a database lookup is needed."""

    STRANGER = "stranger"
    """A key id not seen lately (nor known absent)."""
    STALE = "stale"
    """A known key id whose remembered row is older than the memory lasts."""


class KeyNotRotatable(Exception):  # noqa: N818 - a refusal, not a bug
    """The key cannot be rotated: it is revoked, expired or already rotated."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly created key: the only moment its full token is known."""

    key: ApiKey
    token: str


def parse_scopes(text_value: str) -> frozenset[Scope]:
    """Scopes from a comma-separated list; raise ValueError naming an unknown one."""
    names = [part.strip() for part in text_value.split(",") if part.strip()]
    if not names:
        raise ValueError("at least one scope is required")
    try:
        return frozenset(Scope(name) for name in names)
    except ValueError as exc:
        known = ", ".join(scope.value for scope in Scope)
        raise ValueError(f"unknown scope in {text_value!r}; known scopes: {known}") from exc


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def split_token(token: str) -> tuple[str, str] | None:
    """The (key id, secret) of a well-formed token, else None."""
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


_COLUMNS = "key_id, name, scopes, created_at, expires_at, revoked_at, last_used_at, replaced_by"


class KeyStore:
    """Creates, finds, lists, rotates and revokes API keys."""

    def __init__(self, engine: AsyncEngine, remember_seconds: float = 2.0) -> None:
        self._engine = engine
        # A few seconds of memory saves a database round trip on every request; revoking or
        # rotating through this store forgets at once, another process's change within that.
        self._remember_seconds = remember_seconds
        self._recent: dict[str, tuple[float, bytes, ApiKey]] = {}
        # Key ids found absent, and when: the same unknown key sent again makes no lookup.
        self._absent: dict[str, float] = {}
        self._lookups: dict[str, asyncio.Future[tuple[float, bytes, ApiKey] | None]] = {}

    async def create(
        self, name: str, scopes: frozenset[Scope], expires_at: datetime | None = None
    ) -> IssuedKey:
        """Create a key; its token is returned here and never again."""
        async with self._engine.begin() as conn:
            issued = await _insert(conn, name, scopes, expires_at)
        self._absent.pop(issued.key.key_id, None)
        return issued

    async def get(self, key_id: str) -> ApiKey | None:
        """One key by id (never its secret), or None."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = :key_id"),
                    {"key_id": key_id},
                )
            ).one_or_none()
        return None if row is None else _to_key(row)

    async def rotate(
        self, key_id: str, overlap: timedelta, expires_at: datetime | None = None
    ) -> tuple[ApiKey, IssuedKey] | None:
        """Issue a successor with the same name and scopes; the old key stays valid `overlap`.

        None if there is no such key; `KeyNotRotatable` if it is revoked, expired or rotated.
        """
        self._recent.pop(key_id, None)
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    text(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = :key_id FOR UPDATE"),
                    {"key_id": key_id},
                )
            ).one_or_none()
            if row is None:
                return None
            old, now = _to_key(row), datetime.now(UTC)
            if not old.usable_at(now):
                raise KeyNotRotatable(f"key {key_id} is revoked or expired")
            if old.replaced_by:
                raise KeyNotRotatable(f"key {key_id} was already rotated to {old.replaced_by}")
            issued = await _insert(conn, old.name, old.scopes, expires_at)
            deadline = now + overlap
            if old.expires_at is not None:
                deadline = min(deadline, old.expires_at)
            updated = (
                await conn.execute(
                    text(
                        "UPDATE api_keys SET expires_at = :deadline, replaced_by = :new "
                        f"WHERE key_id = :key_id RETURNING {_COLUMNS}"
                    ),
                    {"deadline": deadline, "new": issued.key.key_id, "key_id": key_id},
                )
            ).one()
        return _to_key(updated), issued

    def recall(self, token: str, now: datetime) -> ApiKey | Recall | None:
        """The usable key for a bearer token judged from memory alone: the key, None (refused),
        or why a database lookup is needed. Known or not, the secret is hashed and compared once."""
        parts = split_token(token)
        key_id, secret = parts or ("", token)
        remembered = self._recent.get(key_id)
        stored_hash = _NO_SECRET_HASH if remembered is None else remembered[1]
        matches = hmac.compare_digest(stored_hash, _hash(secret))
        clock = time.monotonic()
        if remembered is None:
            if parts is None or not _KEY_ID.fullmatch(key_id):
                return None
            absent_since = self._absent.get(key_id)
            if absent_since is not None and clock - absent_since < self._remember_seconds:
                return None
            return Recall.STRANGER
        if clock - remembered[0] >= self._remember_seconds:
            return Recall.STALE
        key = remembered[2]
        return key if matches and key.usable_at(now) else None

    async def authenticate(self, token: str, now: datetime | None = None) -> ApiKey | None:
        """The usable key for a bearer token, or None; records when it was last used."""
        now = now or datetime.now(UTC)
        recalled = self.recall(token, now)
        if not isinstance(recalled, Recall):
            return recalled
        key_id, secret = split_token(token) or ("", "")
        found = await self._look_up(key_id, secret, now)
        if found is None:
            return None
        _, secret_hash, key = found
        matches = hmac.compare_digest(secret_hash, _hash(secret))
        return key if matches and key.usable_at(now) else None

    async def _look_up(
        self, key_id: str, secret: str, now: datetime
    ) -> tuple[float, bytes, ApiKey] | None:
        """One query per key however many requests ask for it at once (a burst of requests
        after the remembered entry expires would otherwise take a connection each)."""
        lookup = self._lookups.get(key_id)
        if lookup is None:
            lookup = asyncio.ensure_future(self._fetch(key_id, secret, now))
            self._lookups[key_id] = lookup
            lookup.add_done_callback(lambda _: self._lookups.pop(key_id, None))
        return await asyncio.shield(lookup)

    async def _fetch(
        self, key_id: str, secret: str, now: datetime
    ) -> tuple[float, bytes, ApiKey] | None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    text(f"SELECT {_COLUMNS}, secret_hash FROM api_keys WHERE key_id = :key_id"),
                    {"key_id": key_id},
                )
            ).one_or_none()
            if row is None:
                self._remember_absent(key_id)
                return None
            key = _to_key(row)
            remembered = (time.monotonic(), bytes(row.secret_hash), key)
            self._recent[key_id] = remembered
            self._absent.pop(key_id, None)
            stale = key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION
            if stale and key.usable_at(now) and hmac.compare_digest(remembered[1], _hash(secret)):
                await conn.execute(
                    text("UPDATE api_keys SET last_used_at = :now WHERE key_id = :key_id"),
                    {"now": now, "key_id": key_id},
                )
        return remembered

    def _remember_absent(self, key_id: str) -> None:
        if len(self._absent) >= ABSENT_CAPACITY:
            # The oldest entries first (dicts keep insertion order); they expire soonest anyway.
            for stale in list(self._absent)[: ABSENT_CAPACITY // 2]:
                del self._absent[stale]
        self._absent.pop(key_id, None)
        self._absent[key_id] = time.monotonic()

    async def list(self) -> list[ApiKey]:
        """Every key, newest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                text(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at DESC, key_id")
            )
            return [_to_key(row) for row in result]

    async def revoke(self, key_id: str, at: datetime | None = None) -> bool:
        """Revoke a key from `at` (default now); False if there is no such key."""
        self._recent.pop(key_id, None)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                text(
                    "UPDATE api_keys SET revoked_at = COALESCE(:at, now()) "
                    "WHERE key_id = :key_id AND revoked_at IS NULL RETURNING key_id"
                ),
                {"at": at, "key_id": key_id},
            )
            return result.one_or_none() is not None


async def _insert(
    conn: AsyncConnection, name: str, scopes: frozenset[Scope], expires_at: datetime | None
) -> IssuedKey:
    key_id, secret = secrets.token_hex(8), secrets.token_hex(24)
    row = (
        await conn.execute(
            text(
                "INSERT INTO api_keys (key_id, name, secret_hash, scopes, expires_at) "
                "VALUES (:key_id, :name, :hash, :scopes, :expires_at) "
                f"RETURNING {_COLUMNS}"
            ),
            {
                "key_id": key_id,
                "name": name,
                "hash": _hash(secret),
                "scopes": sorted(scopes),
                "expires_at": expires_at,
            },
        )
    ).one()
    return IssuedKey(_to_key(row), f"{KEY_PREFIX}_{key_id}_{secret}")


def _stored(instant: datetime | None) -> datetime | None:
    # A key table written by an earlier version may hold `infinity` (from a year-9999 expiry).
    return None if instant is None else as_stored(instant)


def _to_key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        name=row.name,
        scopes=frozenset(Scope(s) for s in row.scopes),
        created_at=row.created_at,
        expires_at=_stored(row.expires_at),
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        replaced_by=row.replaced_by,
    )
