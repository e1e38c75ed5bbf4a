"""Older shapes of event data are lifted to the current shape on read, and folds see no difference."""

from __future__ import annotations

import ast
from dataclasses import astuple
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.events import upcasting
from service.events.recorded import RecordedEvent
from service.events.upcasting import (
    HISTORIES,
    ShapeError,
    ShapeHistory,
    current_version,
    older_shapes,
    recorded_event,
    upcast,
    visit_completed_v0_v1,
)
from service.events.vocabulary import EVENT_TYPES, VisitCompleted
from service.projections import compute_scoreboard
from service.projections.deal import deal_state_at
from service.store.chain.hashing import iso
from tests.histories import PERIODS
from tests.unit.factory import EventLog
from tests.unit.test_properties import FAST, event_logs, known_ats
from tools import verify_export

ROOT = Path(__file__).resolve().parents[2]
V0_TYPES = {"FSI": "first", "FUA": "follow_up"}


def stored(event: RecordedEvent, *, old: bool) -> tuple[Any, ...]:
    """The columns of `event` as stored: a visit in its version 0 shape when `old`."""
    data, version = dict(event.data), current_version(event.type)
    if old and event.type == "visit.completed":
        data = {"rep_id": data["rep_id"], "type": V0_TYPES[data["kind"]]}
        version = 0
    fields = astuple(event)
    return (*fields[:8], data, fields[9], version)


def test_a_version_0_visit_becomes_the_contracts_visit() -> None:
    for old, kind in (("first", "FSI"), ("follow_up", "FUA")):
        data = {"rep_id": "R-7", "type": old}
        lifted = visit_completed_v0_v1(data)
        assert lifted == {"rep_id": "R-7", "kind": kind}
        assert VisitCompleted.model_validate(lifted).kind == kind
        assert data == {"rep_id": "R-7", "type": old}, "a step never changes its argument"


def test_data_that_is_not_of_the_version_it_claims_is_refused() -> None:
    with pytest.raises(ShapeError):
        visit_completed_v0_v1({"rep_id": "R-7", "kind": "FSI"})
    with pytest.raises(ShapeError):
        visit_completed_v0_v1({"rep_id": "R-7", "type": "second"})


def test_current_data_is_returned_as_it_is() -> None:
    data = {"rep_id": "R-7", "kind": "FUA"}
    assert upcast("visit.completed", 1, data) is data
    assert upcast("deal.lost", 1, data) is data


def test_a_version_no_step_leads_from_is_refused() -> None:
    # A newer release's version, a version below the oldest, and an old version of a type
    # that never had another shape
    for event_type, version in (("visit.completed", 2), ("visit.completed", -1), ("deal.lost", 0)):
        with pytest.raises(ShapeError):
            upcast(event_type, version, {"rep_id": "R-7"})


def test_steps_run_in_order_from_the_stored_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a type with three shapes: cents (v1), a number of units (v2), a decimal string (v3)
    def v1_v2(data: upcasting.Data) -> dict[str, Any]:
        rest = {k: v for k, v in data.items() if k != "cents"}
        return {**rest, "units": data["cents"] / 100}

    def v2_v3(data: upcasting.Data) -> dict[str, Any]:
        return {**data, "units": f"{data['units']:.2f}"}

    history = ShapeHistory(oldest=1, steps=(v1_v2, v2_v3))
    monkeypatch.setitem(HISTORIES, "deal.amount_revised", history)
    # Then each stored version takes the steps from its own on, and writers write the last
    assert history.current == current_version("deal.amount_revised") == 3
    assert upcast("deal.amount_revised", 1, {"cents": 1250}) == {"units": "12.50"}
    assert upcast("deal.amount_revised", 2, {"units": 12.5}) == {"units": "12.50"}
    assert upcast("deal.amount_revised", 3, {"units": "12.50"}) == {"units": "12.50"}
    assert ("deal.amount_revised", 1) in older_shapes()
    assert ("deal.amount_revised", 2) in older_shapes()


def test_the_registry_names_contract_types_and_writers_use_its_current_versions() -> None:
    assert set(HISTORIES) <= set(EVENT_TYPES)
    assert older_shapes() == [("visit.completed", 0)]
    # Version 1 is the contract's shape: what every row written so far carries
    assert {current_version(event_type) for event_type in EVENT_TYPES} == {1}


def test_a_stored_old_row_reads_back_in_the_current_shape() -> None:
    log = EventLog()
    visit = log.add("visit.completed", "D-1", "2026-03-02T10:00:00Z", rep_id="R-7", kind="FUA")
    read = recorded_event(*stored(visit, old=True))
    assert read == visit
    assert read.schema_version == 1
    assert recorded_event(*stored(visit, old=False)) == visit


@FAST
@given(event_logs(), known_ats, st.sampled_from(PERIODS), st.data())
def test_a_log_holding_both_shapes_folds_as_the_current_one(
    log: EventLog,
    known_at: datetime | None,
    period: tuple[datetime, datetime],
    data: st.DataObject,
) -> None:
    # Given any log, some of whose visits were stored in their version 0 shape
    olds = [data.draw(st.booleans()) for _ in log.events]
    rows = [stored(event, old=old) for event, old in zip(log.events, olds, strict=True)]
    # When the stored rows are read back
    read = [recorded_event(*row) for row in rows]
    # Then the events, the scoreboard and every deal are those of the log in current shapes
    assert read == log.events
    start, end = period
    known = known_at or max((event.recorded_at for event in log.events), default=start)
    boards = [
        compute_scoreboard(events, start=start, end=end, known_at=known, group_by="rep").to_json()
        for events in (read, log.events)
    ]
    assert boards[0] == boards[1]
    for deal in {event.subject for event in log.events if event.subject.startswith("D-")}:
        states = [
            deal_state_at(deal, events, as_of=end, known_at=known) for events in (read, log.events)
        ]
        assert states[0] == states[1]
    # And the stand-alone verifier, reading the export lines as stored, folds the same
    header = {"period": {"from": iso(start), "to": iso(end)}, "known_at": iso(known)}
    lines = [export_line(row) for row in rows]
    assert verify_export.scoreboard(header, lines) == verify_export.scoreboard(
        header, [export_line(stored(event, old=False)) for event in log.events]
    )


def export_line(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored row as an export line holds it."""
    position, subject, stream_version, source, id_, type_, occurred, recorded, data, _, ver = row
    return verify_export.with_instants(
        {
            "position": position,
            "subject": subject,
            "stream_version": stream_version,
            "source": source,
            "id": id_,
            "type": type_,
            "schema_version": ver,
            "time": iso(occurred),
            "recorded_at": iso(recorded),
            "data": data,
        }
    )


def test_the_verifier_reads_old_visits_as_the_service_does() -> None:
    for old in ("first", "follow_up"):
        data = {"rep_id": "R", "type": old}
        line = {"type": "visit.completed", "schema_version": 0, "data": data}
        assert verify_export.known_shape(line)
        lifted = verify_export.in_contract_shape(line)["data"]
        assert lifted == upcast("visit.completed", 0, data)
    assert not verify_export.known_shape({"type": "deal.lost", "schema_version": 0})
    assert not verify_export.known_shape({"type": "visit.completed", "schema_version": 2})


def _builds_recorded_events(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if isinstance(node.func, ast.Attribute):
                name = node.func.attr
            if name == "RecordedEvent":
                return True
    return False


def test_stored_rows_become_recorded_events_in_one_place() -> None:
    # Every read of the events table goes through `recorded_event`; the plan read model's rows
    # were written from events read that way, so they hold current shapes already.
    builders = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "service").rglob("*.py")
        if _builds_recorded_events(path)
    }
    assert builders == {"service/events/upcasting.py", "service/store/queries/plans.py"}
