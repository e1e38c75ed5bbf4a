"""The stand-alone verifier's own fold of the contract equals the service's `compute_scoreboard`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.events.recorded import RecordedEvent
from service.projections import compute_scoreboard
from service.store.chain.hashing import iso
from tests.histories import PERIODS
from tests.unit.factory import EventLog
from tests.unit.test_properties import FAST, event_logs, known_ats
from tools import verify_export

FIELDS = verify_export.Tally().numbers().keys()


def as_line(event: RecordedEvent) -> dict[str, Any]:
    """An event as an export line holds it."""
    return verify_export.with_instants(
        {
            "position": event.position,
            "subject": event.subject,
            "source": event.source,
            "id": event.id,
            "type": event.type,
            "time": iso(event.occurred_at),
            "recorded_at": iso(event.recorded_at),
            "data": dict(event.data),
        }
    )


@FAST
@given(event_logs(), known_ats, st.sampled_from(PERIODS))
def test_the_tools_fold_equals_the_service_fold(
    log: EventLog, known_at: datetime | None, period: tuple[datetime, datetime]
) -> None:
    # Given any log (retractions, reassignments, teams, ties, late knowledge) and a period
    start, end = period
    if known_at is None:
        known_at = max((event.recorded_at for event in log.events), default=start)
    header = {"period": {"from": iso(start), "to": iso(end)}, "known_at": iso(known_at)}
    # When both fold it by rep
    mine = verify_export.scoreboard(header, [as_line(event) for event in log.events])
    theirs = compute_scoreboard(
        log.events, start=start, end=end, known_at=known_at, group_by="rep"
    ).to_json()
    # Then they give the same rows and totals
    assert mine["rows"] == [{"key": r["key"]} | {f: r[f] for f in FIELDS} for r in theirs["rows"]]
    assert mine["totals"] == {f: theirs["totals"][f] for f in FIELDS}
