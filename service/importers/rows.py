"""What mapping an export yields: drafted events, skipped rows and ignored rows, each with its
origin (file and line) so that every problem can be named."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: a file and a line (CSV, NDJSON) or a JSON pointer (JSON)."""

    file: str
    line: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class InvalidInput(Exception):  # noqa: N818 - an outcome of reading, named for the user
    """The input is broken: the import stops before the first append, naming file, line, why."""

    def __init__(self, origin: Origin, reason: str) -> None:
        super().__init__(f"{origin}: {reason}")
        self.origin = origin
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Skipped:
    """A valid row that maps to nothing (an unknown stage or user): reported, never stored."""

    origin: Origin
    reason: str


@dataclass(frozen=True, slots=True)
class Draft:
    """A raw contract CloudEvent made from a row; `rank` orders events of the same instant
    (a deal is created before its first stage is entered)."""

    origin: Origin
    event: dict[str, Any]
    rank: int = 0


RANK_CREATED, RANK_OWNER, RANK_STAGE, RANK_AMOUNT, RANK_ACTIVITY = range(5)


@dataclass(slots=True)
class Plan:
    """Everything an input maps to, before validation."""

    drafts: list[Draft] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    rows: int = 0

    def add(self, origin: Origin, event: dict[str, Any], rank: int = 0) -> None:
        """Keep a drafted event."""
        self.drafts.append(Draft(origin, event, rank))

    def skip(self, origin: Origin, reason: str) -> None:
        """Report a valid row that maps to nothing."""
        self.skipped.append(Skipped(origin, reason))

    def ignore(self, reason: str) -> None:
        """Count a row that, by design, makes no event (an unchanged stage, an open task)."""
        self.ignored[reason] += 1

    def extend(self, other: Plan) -> None:
        """Add another plan's outcome to this one."""
        self.drafts += other.drafts
        self.skipped += other.skipped
        self.ignored.update(other.ignored)
        self.rows += other.rows
