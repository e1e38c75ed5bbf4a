"""The test factory writes data that the contract's own models accept."""

import pytest

from service.events.vocabulary import EVENT_TYPES, data_model_for
from tests.unit.factory import DEFAULT_DATA, EventLog


@pytest.mark.parametrize("type_", sorted(DEFAULT_DATA))
def test_default_data_is_valid_for_its_type(type_: str) -> None:
    event = EventLog().add(type_, "D-1", "2026-03-01T10:00:00+00:00")
    model = data_model_for(type_)
    assert model is not None
    model.model_validate(dict(event.data))


def test_every_deal_event_type_has_default_data() -> None:
    deal_types = {name for name, entry in EVENT_TYPES.items() if entry.subject_kind == "deal"}
    assert deal_types == set(DEFAULT_DATA)


def test_retraction_and_team_data_are_valid() -> None:
    log = EventLog()
    target = log.add("call.logged", "D-1", "2026-03-01T10:00:00+00:00")
    for event in (
        log.retract(target, "2026-03-02T10:00:00+00:00"),
        log.team("R-1", "T-1", "2026-01-01T00:00:00+00:00"),
    ):
        model = data_model_for(event.type)
        assert model is not None
        model.model_validate(dict(event.data))


def test_stream_versions_count_per_subject() -> None:
    log = EventLog()
    a1 = log.add("lead.sourced", "D-1", "2026-03-01T10:00:00+00:00")
    b1 = log.add("lead.sourced", "D-2", "2026-03-01T10:00:00+00:00")
    a2 = log.add("call.logged", "D-1", "2026-03-01T11:00:00+00:00")
    assert [(e.position, e.stream_version) for e in (a1, b1, a2)] == [(1, 1), (2, 1), (3, 2)]
