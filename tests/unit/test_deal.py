"""Folding a deal (contract §4): stage, owner, amounts, counters, dates and version."""

from functools import reduce

import pytest

from service.events.recorded import RecordedEvent
from service.projections import DealState, Stage, deal_state_at, evolve, fold, visible
from tests.unit.factory import EventLog, at

D = "D-1"


def state_of(log: EventLog) -> DealState:
    state = fold(D, visible(log.events, as_of=None, known_at=None))
    assert state is not None
    return state


def eb_committed_deal() -> EventLog:
    log = EventLog()
    log.add("lead.sourced", D, "2026-03-01T00:00:00+00:00", rep_id="R-1")
    log.add("deal.qualified", D, "2026-03-02T00:00:00+00:00")
    log.add("deal.eb_committed", D, "2026-03-03T00:00:00+00:00")
    return log


def test_no_events_no_deal() -> None:
    assert fold(D, []) is None


@pytest.mark.parametrize(
    ("type_", "stage"),
    [
        ("lead.sourced", Stage.LEAD),
        ("deal.qualified", Stage.OPPORTUNITY),
        ("deal.disqualified", Stage.DISQUALIFIED),
        ("deal.eb_committed", Stage.EB_COMMITTED),
        ("deal.committee_approved", Stage.COMMITTED),
        ("deal.contract_signed", Stage.WON),
        ("deal.lost", Stage.LOST),
    ],
)
def test_each_stage_effect(type_: str, stage: str) -> None:
    log = EventLog()
    log.add("call.logged", D, "2026-03-01T00:00:00+00:00")
    log.add(type_, D, "2026-03-02T00:00:00+00:00")
    state = state_of(log)
    assert state.stage == stage
    assert state.stage_entered_at == at("2026-03-02T00:00:00+00:00")


@pytest.mark.parametrize(
    "type_",
    ["lead.contacted", "visit.completed", "call.logged", "deal.reassigned", "deal.amount_revised"],
)
def test_events_without_stage_effect_keep_the_stage(type_: str) -> None:
    log = EventLog()
    log.add("deal.qualified", D, "2026-03-01T00:00:00+00:00")
    log.add(type_, D, "2026-03-02T00:00:00+00:00")
    state = state_of(log)
    assert (state.stage, state.stage_entered_at) == (
        Stage.OPPORTUNITY,
        at("2026-03-01T00:00:00+00:00"),
    )


def test_a_deal_with_no_stage_setting_event_exists_with_a_null_stage() -> None:
    log = EventLog()
    log.add("visit.completed", D, "2026-03-01T00:00:00+00:00", kind="FSI")
    state = state_of(log)
    assert state.stage is None
    assert state.stage_entered_at is None
    assert state.owner_rep_id is None
    assert state.fsi_visits == 1


def test_eb_departed_moves_an_eb_committed_deal_back_and_clears_the_eb() -> None:
    # Given a deal whose EB committed
    log = eb_committed_deal()
    assert state_of(log).eb == {"name": "Ms. Lin", "title": "CFO"}
    # When the EB departs
    log.add("deal.eb_departed", D, "2026-03-04T00:00:00+00:00")
    # Then the deal is an opportunity again, since the departure, with no EB
    state = state_of(log)
    assert state.stage == Stage.OPPORTUNITY
    assert state.stage_entered_at == at("2026-03-04T00:00:00+00:00")
    assert state.eb is None


@pytest.mark.parametrize("last", ["deal.committee_approved", "deal.contract_signed", "deal.lost"])
def test_eb_departed_in_any_other_stage_changes_nothing(last: str) -> None:
    # Given a deal past eb_committed
    log = eb_committed_deal()
    log.add(last, D, "2026-03-04T00:00:00+00:00")
    before = state_of(log)
    # When the EB departs
    log.add("deal.eb_departed", D, "2026-03-05T00:00:00+00:00")
    after = state_of(log)
    # Then stage, its date and the EB stay; only the deal's dates and version move on
    assert (after.stage, after.stage_entered_at, after.eb) == (
        before.stage,
        before.stage_entered_at,
        before.eb,
    )
    assert after.last_event_at == at("2026-03-05T00:00:00+00:00")
    assert after.version == before.version + 1


def test_eb_departed_on_a_lead_or_a_stageless_deal_changes_nothing() -> None:
    log = EventLog()
    log.add("deal.eb_departed", D, "2026-03-01T00:00:00+00:00")
    assert state_of(log).stage is None
    log.add("lead.sourced", D, "2026-03-02T00:00:00+00:00")
    log.add("deal.eb_departed", D, "2026-03-03T00:00:00+00:00")
    state = state_of(log)
    assert (state.stage, state.stage_entered_at) == (Stage.LEAD, at("2026-03-02T00:00:00+00:00"))


def test_re_entering_the_current_stage_keeps_stage_entered_at() -> None:
    log = EventLog()
    log.add("deal.qualified", D, "2026-03-01T00:00:00+00:00")
    log.add("deal.qualified", D, "2026-03-05T00:00:00+00:00", amount="2000.00")
    state = state_of(log)
    assert state.stage_entered_at == at("2026-03-01T00:00:00+00:00")
    assert state.amount == "2000.00"


def test_owner_changes_only_by_sourcing_and_reassignment() -> None:
    # Given a lead sourced by R-1, then actions credited to R-3
    log = EventLog()
    log.add("lead.sourced", D, "2026-03-01T00:00:00+00:00", rep_id="R-1")
    log.add("deal.qualified", D, "2026-03-02T00:00:00+00:00", rep_id="R-3")
    log.add("deal.contract_signed", D, "2026-03-03T00:00:00+00:00", rep_id="R-3")
    # Then R-1 still owns it
    assert state_of(log).owner_rep_id == "R-1"
    # When R-3 reassigns it to R-2, Then R-2 owns it (not R-3, who acted)
    log.add("deal.reassigned", D, "2026-03-04T00:00:00+00:00", rep_id="R-3", to_rep_id="R-2")
    assert state_of(log).owner_rep_id == "R-2"


def test_owner_is_null_until_sourced_or_reassigned() -> None:
    log = EventLog()
    log.add("deal.qualified", D, "2026-03-01T00:00:00+00:00", rep_id="R-1")
    assert state_of(log).owner_rep_id is None
    log.add("deal.reassigned", D, "2026-03-02T00:00:00+00:00", rep_id="R-1", to_rep_id="R-9")
    assert state_of(log).owner_rep_id == "R-9"


def test_account_and_channel_come_from_sourcing() -> None:
    log = EventLog()
    log.add(
        "lead.sourced",
        D,
        "2026-03-01T00:00:00+00:00",
        account={"name": "Foxconn", "size": 500},
        channel="referral",
    )
    state = state_of(log)
    assert (state.account, state.channel) == ({"name": "Foxconn", "size": 500}, "referral")


def test_amount_is_set_by_qualification_signing_and_revision() -> None:
    log = EventLog()
    log.add("deal.qualified", D, "2026-03-01T00:00:00+00:00", amount="100.00", currency="TWD")
    assert (state_of(log).amount, state_of(log).currency) == ("100.00", "TWD")
    log.add("deal.amount_revised", D, "2026-03-02T00:00:00+00:00", amount="90.5", currency="USD")
    assert (state_of(log).amount, state_of(log).currency) == ("90.5", "USD")
    log.add(
        "deal.contract_signed", D, "2026-03-03T00:00:00+00:00", amount="125000.00", currency="TWD"
    )
    assert (state_of(log).amount, state_of(log).currency) == ("125000.00", "TWD")


def test_a_numeric_amount_is_kept_as_a_decimal_string() -> None:
    log = EventLog()
    log.add("deal.qualified", D, "2026-03-01T00:00:00+00:00", amount=1250.5)
    assert state_of(log).amount == "1250.5"


def test_visits_and_calls_are_counted() -> None:
    log = EventLog()
    log.add("visit.completed", D, "2026-03-01T00:00:00+00:00", kind="FSI")
    log.add("visit.completed", D, "2026-03-02T00:00:00+00:00", kind="FUA")
    log.add("visit.completed", D, "2026-03-03T00:00:00+00:00", kind="FUA")
    log.add("call.logged", D, "2026-03-04T00:00:00+00:00")
    log.add("lead.contacted", D, "2026-03-05T00:00:00+00:00", method="visit")
    state = state_of(log)
    assert (state.fsi_visits, state.fua_visits, state.calls) == (1, 2, 1)


def test_last_stage_wins_by_occurred_at_even_when_it_arrived_first() -> None:
    # Given a loss that happened last but was stored first (lower position)
    log = EventLog()
    log.add("deal.lost", D, "2026-03-05T00:00:00+00:00")
    log.add("deal.qualified", D, "2026-03-01T00:00:00+00:00")
    log.add("deal.committee_approved", D, "2026-03-03T00:00:00+00:00")
    # Then the loss wins
    state = state_of(log)
    assert (state.stage, state.stage_entered_at) == (Stage.LOST, at("2026-03-05T00:00:00+00:00"))
    assert (state.first_event_at, state.last_event_at) == (
        at("2026-03-01T00:00:00+00:00"),
        at("2026-03-05T00:00:00+00:00"),
    )
    assert state.version == 3


def test_ties_on_occurred_at_are_taken_in_position_order() -> None:
    log = EventLog()
    log.add("deal.lost", D, "2026-03-01T00:00:00+00:00", position=2)
    log.add("deal.qualified", D, "2026-03-01T00:00:00+00:00", position=1)
    assert state_of(log).stage == Stage.LOST


def test_a_retracted_event_is_not_folded() -> None:
    log = EventLog()
    log.add("deal.qualified", D, "2026-03-01T00:00:00+00:00")
    signing = log.add("deal.contract_signed", D, "2026-03-02T00:00:00+00:00", amount="5.00")
    log.retract(signing, "2026-03-10T00:00:00+00:00")
    state = state_of(log)
    assert (state.stage, state.amount, state.last_event_at) == (
        Stage.OPPORTUNITY,
        "1000.00",
        at("2026-03-01T00:00:00+00:00"),
    )


def test_evolve_refuses_events_that_are_not_deal_events() -> None:
    log = EventLog()
    target = log.add("call.logged", D, "2026-03-01T00:00:00+00:00")
    with pytest.raises(ValueError, match="not a deal event"):
        evolve(None, log.retract(target, "2026-03-02T00:00:00+00:00"))
    with pytest.raises(ValueError, match="not a deal event"):
        evolve(None, log.team("R-1", "T-1", "2026-03-01T00:00:00+00:00"))


def test_fold_is_evolve_repeated() -> None:
    log = eb_committed_deal()
    log.add("deal.eb_departed", D, "2026-03-04T00:00:00+00:00")
    log.add("deal.reassigned", D, "2026-03-04T00:00:00+00:00")
    ordered = visible(log.events, as_of=None, known_at=None)
    assert reduce(evolve, ordered, None) == fold(D, ordered)


def test_fold_version_can_be_overridden() -> None:
    log = eb_committed_deal()
    state = fold(D, log.events, version=42)
    assert state is not None
    assert state.version == 42


def test_to_json_gives_every_contract_field() -> None:
    log = eb_committed_deal()
    log.add("visit.completed", D, "2026-03-30T09:12:00+08:00", kind="FUA")
    assert state_of(log).to_json() == {
        "deal_id": D,
        "stage": "eb_committed",
        "owner_rep_id": "R-1",
        "account": {"name": "Acme"},
        "channel": "web",
        "amount": "1000.00",
        "currency": "TWD",
        "eb": {"name": "Ms. Lin", "title": "CFO"},
        "stage_entered_at": "2026-03-03T00:00:00+00:00",
        "first_event_at": "2026-03-01T00:00:00+00:00",
        "last_event_at": "2026-03-30T01:12:00+00:00",
        "fsi_visits": 0,
        "fua_visits": 1,
        "calls": 0,
        "version": 4,
    }


class TestDealStateAt:
    """Selecting and folding in one call, with the version the API reports."""

    @staticmethod
    def log_with_other_subjects() -> tuple[EventLog, RecordedEvent]:
        log = EventLog()
        log.add(
            "lead.sourced", D, "2026-03-01T00:00:00+00:00", recorded_at="2026-03-01T00:00:00+00:00"
        )
        log.add(
            "lead.sourced",
            "D-2",
            "2026-03-01T00:00:00+00:00",
            recorded_at="2026-03-01T00:00:00+00:00",
        )
        log.team("R-1", "T-1", "2026-01-01T00:00:00+00:00", recorded_at="2026-03-01T00:00:00+00:00")
        qualified = log.add(
            "deal.qualified",
            D,
            "2026-03-05T00:00:00+00:00",
            recorded_at="2026-03-05T00:00:00+00:00",
        )
        return log, qualified

    def test_only_the_deal_s_own_events_are_folded(self) -> None:
        log, _ = self.log_with_other_subjects()
        state = deal_state_at(D, log.events, as_of=None, known_at=None)
        assert state is not None
        assert (state.deal_id, state.stage, state.version) == (D, Stage.OPPORTUNITY, 2)

    def test_as_of_and_known_at_limit_the_fold(self) -> None:
        log, _ = self.log_with_other_subjects()
        before = deal_state_at(D, log.events, as_of=at("2026-03-04T00:00:00+00:00"), known_at=None)
        unknown = deal_state_at(D, log.events, as_of=None, known_at=at("2026-03-04T00:00:00+00:00"))
        assert before == unknown
        assert before is not None
        assert (before.stage, before.version) == (Stage.LEAD, 1)

    def test_no_deal_before_its_first_event_or_before_it_is_known(self) -> None:
        log, _ = self.log_with_other_subjects()
        assert (
            deal_state_at(D, log.events, as_of=at("2026-02-28T00:00:00+00:00"), known_at=None)
            is None
        )
        assert (
            deal_state_at(D, log.events, as_of=None, known_at=at("2026-02-28T00:00:00+00:00"))
            is None
        )
        assert deal_state_at("D-404", log.events, as_of=None, known_at=None) is None

    def test_a_fully_retracted_deal_does_not_exist(self) -> None:
        log = EventLog()
        only = log.add(
            "lead.sourced", D, "2026-03-01T00:00:00+00:00", recorded_at="2026-03-01T00:00:00+00:00"
        )
        log.retract(only, "2026-03-02T00:00:00+00:00", recorded_at="2026-03-02T00:00:00+00:00")
        assert deal_state_at(D, log.events, as_of=None, known_at=None) is None
        # ...but it did exist as known before the retraction
        assert (
            deal_state_at(D, log.events, as_of=None, known_at=at("2026-03-01T12:00:00+00:00"))
            is not None
        )

    def test_a_retraction_moves_the_version_on(self) -> None:
        log, qualified = self.log_with_other_subjects()
        log.retract(qualified, "2026-03-06T00:00:00+00:00", recorded_at="2026-03-06T00:00:00+00:00")
        state = deal_state_at(D, log.events, as_of=None, known_at=None)
        assert state is not None
        assert (state.stage, state.version) == (Stage.LEAD, 3)
        # The retraction counts whatever its own time: even at an as_of before it
        early = deal_state_at(D, log.events, as_of=at("2026-03-02T00:00:00+00:00"), known_at=None)
        assert early is not None
        assert early.version == 3

    def test_a_retracted_event_within_as_of_still_counts_for_the_version(self) -> None:
        log = EventLog()
        log.add("lead.sourced", D, "2026-03-01T00:00:00+00:00")
        call = log.add("call.logged", D, "2026-03-02T00:00:00+00:00")
        log.add("deal.qualified", D, "2026-03-09T00:00:00+00:00")
        log.retract(call, "2026-03-10T00:00:00+00:00")
        state = deal_state_at(D, log.events, as_of=at("2026-03-05T00:00:00+00:00"), known_at=None)
        assert state is not None
        # sourced (1), retracted call (2), retraction (4); not the later qualification (3)
        assert state.version == 4
