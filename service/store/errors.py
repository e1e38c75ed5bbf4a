"""Typed errors of the store; the API turns each into an RFC 9457 problem."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """Why one event of a batch was refused."""

    index: int
    detail: str
    source: str | None = None
    id: str | None = None


class AppendRejected(Exception):  # noqa: N818 - a family of domain outcomes, not a bug
    """Nothing of the batch was stored; `items` says which events were the cause."""

    def __init__(self, items: list[RejectedItem]) -> None:
        super().__init__("; ".join(f"[{item.index}] {item.detail}" for item in items))
        self.items = items


class KeyReuseConflict(AppendRejected):
    """An idempotency key (source, id) was reused with different content."""


class VersionConflict(AppendRejected):
    """An `expectedversion` did not match the stream's version."""


class RetractionRejected(AppendRejected):
    """A retraction names no event that it may retract."""
