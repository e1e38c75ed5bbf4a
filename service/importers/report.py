"""What an import tells: the summary (events per type, created, duplicate, skipped and
ignored by reason) and the report file of skipped rows (file, line, reason)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.api.http.tabular import csv_cell
from service.importers.rows import Skipped


@dataclass(slots=True)
class Summary:
    """The outcome of an import, or of a dry run (then `created` is what would be created)."""

    source: str
    dry_run: bool
    rows: int = 0
    events: Counter[str] = field(default_factory=Counter)
    created: int = 0
    duplicate: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    report: str | None = None
    source_digest: str | None = None
    verified: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The machine-readable summary (`--json`)."""
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "events": sum(self.events.values()),
            "events_by_type": dict(sorted(self.events.items())),
            "created": self.created,
            "duplicate": self.duplicate,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(self.skipped.most_common()),
            "ignored_by_reason": dict(self.ignored.most_common()),
            "report": self.report,
            "source_digest": self.source_digest,
            "verified": self.verified,
        }

    def lines(self) -> list[str]:
        """The summary for a person."""
        verb = "would be created" if self.dry_run else "created"
        out = [
            f"{self.rows} rows read, {sum(self.events.values())} events: "
            f"{self.created} {verb}, {self.duplicate} already stored"
        ]
        out += [f"  {count:>8}  {kind}" for kind, count in sorted(self.events.items())]
        if self.skipped:
            out.append(f"{sum(self.skipped.values())} rows skipped (see {self.report}):")
            out += [f"  {count:>8}  {reason}" for reason, count in self.skipped.most_common()]
        if self.ignored:
            out.append("rows that make no event:")
            out += [f"  {count:>8}  {reason}" for reason, count in self.ignored.most_common()]
        if self.source_digest is not None:
            state = "every event stored as exported" if self.verified else "NOT verified"
            out.append(f"source digest {self.source_digest}: {state}")
        return out


def default_report_path(source: Path) -> Path:
    """Beside the input: `<input>.import-report.csv`."""
    return source.with_name(source.name + ".import-report.csv")


def write_report(path: Path, skipped: list[Skipped]) -> None:
    """The skipped rows as CSV: file, line, reason (formula-like cells neutralised)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "reason"])
        for item in skipped:
            writer.writerow(
                [csv_cell(item.origin.file), csv_cell(item.origin.line), csv_cell(item.reason)]
            )
