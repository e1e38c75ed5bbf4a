"""The five numbers (contract §5), computed from raw events."""

from typing import Any
from zoneinfo import ZoneInfo

from service.projections import GroupBy, Scoreboard, compute_scoreboard, parse_period
from tests.unit.factory import EventLog, at

MARCH = ("2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00")


def board(
    log: EventLog,
    group_by: GroupBy = "rep",
    period: tuple[str, str] = MARCH,
    known_at: str | None = None,
) -> Scoreboard:
    return compute_scoreboard(
        log.events,
        start=at(period[0]),
        end=at(period[1]),
        known_at=None if known_at is None else at(known_at),
        group_by=group_by,
    )


def rows(result: Scoreboard) -> dict[str | None, dict[str, Any]]:
    return {row.key: row.to_json() for row in result.rows}


def test_the_json_shape_of_a_row_and_of_the_totals() -> None:
    # Given one deal taken from lead to won by R-1 in March, with two visits
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-03-01T00:00:00+00:00")
    log.add("visit.completed", "D-1", "2026-03-02T00:00:00+00:00", kind="FSI")
    log.add("visit.completed", "D-1", "2026-03-03T00:00:00+00:00", kind="FUA")
    log.add("deal.qualified", "D-1", "2026-03-04T00:00:00+00:00")
    log.add("deal.committee_approved", "D-1", "2026-03-05T00:00:00+00:00")
    log.add("deal.contract_signed", "D-1", "2026-03-06T00:00:00+00:00", amount="125000.00")
    # and three calls: two outbound (one answered), one inbound
    for hour, direction, duration_s, outcome in (
        ("01", "outbound", 300, "answered"),
        ("02", "outbound", 20, "Left voicemail"),
        ("03", "inbound", 90, "answered"),
    ):
        log.add(
            "call.logged",
            "D-1",
            f"2026-03-04T{hour}:00:00+00:00",
            direction=direction,
            duration_s=duration_s,
            outcome=outcome,
        )
    # When the scoreboard of March is computed
    result = board(log).to_json()
    # Then every number is there, in the contract's shape
    numbers = {
        "closed_deals": 1,
        "committed_deals": 1,
        "opportunities": 1,
        "leads": 1,
        "client_visits": 2,
        "fsi_visits": 1,
        "fua_visits": 1,
        # Additive: outbound calls, the connected ones and their talk time
        "calls": 2,
        "connected_calls": 1,
        "talk_time_s": 300,
        "closed_value": {"TWD": "125000.00"},
        "open": {"leads": 0, "opportunities": 0, "committed_deals": 0},
        "conversion": {
            "lead_to_opportunity": 1.0,
            "opportunity_to_committed": 1.0,
            "committed_to_closed": 1.0,
        },
        "fsi_share": 0.5,
        # Additive: no target or priority is set here (docs/targets.md)
        "targets": {},
        "attainment": {},
        "priorities": None,
    }
    assert result == {
        "from": "2026-03-01T00:00:00+00:00",
        "to": "2026-04-01T00:00:00+00:00",
        "known_at": None,
        "group_by": "rep",
        # Additive: the period's working days, stated once targets are attached (docs/targets.md)
        "working_days": None,
        # Additive: rows by rep name the rep (null: no rep.profile_set)
        "rows": [{"key": "R-1", "rep_name": None, **numbers}],
        "totals": numbers,
    }


def test_nothing_counted_gives_no_rows_and_zero_totals() -> None:
    result = board(EventLog()).to_json()
    assert result["rows"] == []
    assert result["totals"]["closed_value"] == {}
    assert result["totals"]["conversion"] == {
        "lead_to_opportunity": None,
        "opportunity_to_committed": None,
        "committed_to_closed": None,
    }
    assert result["totals"]["fsi_share"] is None


def test_conversion_ratios_are_rounded_to_four_decimals() -> None:
    log = EventLog()
    for deal in ("D-1", "D-2", "D-3"):
        log.add("lead.sourced", deal, "2026-03-01T00:00:00+00:00")
    log.add("deal.qualified", "D-1", "2026-03-02T00:00:00+00:00")
    for kind in ("FSI", "FUA", "FUA"):
        log.add("visit.completed", "D-1", "2026-03-02T00:00:00+00:00", kind=kind)
    totals = board(log).to_json()["totals"]
    assert totals["conversion"]["lead_to_opportunity"] == 0.3333
    assert totals["conversion"]["opportunity_to_committed"] == 0.0
    assert totals["conversion"]["committed_to_closed"] is None
    assert totals["fsi_share"] == 0.3333


def test_the_period_is_half_open() -> None:
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-03-01T00:00:00+00:00")
    log.add("lead.sourced", "D-2", "2026-04-01T00:00:00+00:00")
    log.add("lead.sourced", "D-3", "2026-02-28T23:59:59.999999+00:00")
    result = board(log)
    assert result.totals.leads == 1
    # D-3 was sourced before the period: still open at its end, but not a lead of the period
    assert result.totals.open.leads == 2


def test_known_at_hides_later_records_and_later_retractions() -> None:
    # Given a signing recorded on 03-10 and retracted on 03-20
    log = EventLog()
    signing = log.add(
        "deal.contract_signed",
        "D-1",
        "2026-03-05T00:00:00+00:00",
        recorded_at="2026-03-10T00:00:00+00:00",
    )
    log.retract(signing, "2026-03-20T00:00:00+00:00", recorded_at="2026-03-20T00:00:00+00:00")
    # Then it did not count as known on 03-09, counted as known on 03-15, and no longer counts now
    assert board(log, known_at="2026-03-09T00:00:00+00:00").totals.closed_deals == 0
    assert board(log, known_at="2026-03-15T00:00:00+00:00").totals.closed_deals == 1
    assert board(log).totals.closed_deals == 0
    assert board(log).to_json()["rows"] == []


def test_closed_value_is_the_latest_counting_signing_of_each_deal() -> None:
    # Given D-1 signed for 100 then re-signed for 150 (stored in the reverse order), and
    # D-2 signed for 80 in February and for 90 in March
    log = EventLog()
    log.add(
        "deal.contract_signed",
        "D-1",
        "2026-03-20T00:00:00+00:00",
        amount="150.00",
        contract_id="C-2",
    )
    log.add("deal.contract_signed", "D-1", "2026-03-10T00:00:00+00:00", amount="100.00")
    log.add("deal.contract_signed", "D-2", "2026-02-10T00:00:00+00:00", amount="80.00")
    log.add("deal.contract_signed", "D-2", "2026-03-10T00:00:00+00:00", amount="90.00")
    # Then each deal adds the amount of its latest signing in March, once
    totals = board(log).to_json()["totals"]
    assert (totals["closed_deals"], totals["closed_value"]) == (2, {"TWD": "240.00"})


def test_closed_value_keeps_decimal_scale_and_splits_currencies() -> None:
    log = EventLog()
    log.add("deal.contract_signed", "D-1", "2026-03-10T00:00:00+00:00", amount="100.00")
    log.add("deal.contract_signed", "D-2", "2026-03-10T00:00:00+00:00", amount="25.5")
    log.add("deal.contract_signed", "D-3", "2026-03-10T00:00:00+00:00", amount="7", currency="USD")
    assert board(log).to_json()["totals"]["closed_value"] == {"TWD": "125.50", "USD": "7"}


def test_a_deal_credited_to_two_reps_counts_once_in_the_totals() -> None:
    # Given D-1 signed by R-1, reassigned, and re-signed by R-2 for more, all in March
    log = EventLog()
    log.add(
        "deal.contract_signed", "D-1", "2026-03-05T00:00:00+00:00", rep_id="R-1", amount="100.00"
    )
    log.add("deal.reassigned", "D-1", "2026-03-06T00:00:00+00:00", rep_id="R-1", to_rep_id="R-2")
    log.add(
        "deal.contract_signed", "D-1", "2026-03-07T00:00:00+00:00", rep_id="R-2", amount="150.00"
    )
    result = board(log)
    by_key = rows(result)
    # Then each rep's row counts the deal with its own latest signing
    assert (by_key["R-1"]["closed_deals"], by_key["R-1"]["closed_value"]) == (1, {"TWD": "100.00"})
    assert (by_key["R-2"]["closed_deals"], by_key["R-2"]["closed_value"]) == (1, {"TWD": "150.00"})
    # And the totals count it once, with the deal's latest signing
    assert (result.totals.closed_deals, result.to_json()["totals"]["closed_value"]) == (
        1,
        {"TWD": "150.00"},
    )


def test_flow_goes_to_the_acting_rep_and_open_to_the_owner() -> None:
    # Given a lead sourced by R-1 and reassigned by
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-03-01T00:00:00+00:00", rep_id="R-1")
    log.add("deal.reassigned", "D-1", "2026-03-02T00:00:00+00:00", rep_id="R-1", to_rep_id="R-2")
    log.add("visit.completed", "D-1", "2026-03-03T00:00:00+00:00", rep_id="R-3", kind="FUA")
    by_key = rows(board(log))
    # Then R-1 has the lead, R-3 the visit, and R-2 the open lead
    assert (by_key["R-1"]["leads"], by_key["R-1"]["open"]["leads"]) == (1, 0)
    assert (by_key["R-2"]["leads"], by_key["R-2"]["open"]["leads"]) == (0, 1)
    assert (by_key["R-3"]["client_visits"], by_key["R-3"]["fua_visits"]) == (1, 1)


def test_open_counts_stages_as_of_just_before_the_end() -> None:
    log = EventLog()
    stages = {
        "D-lead": ["lead.sourced"],
        "D-opp": ["lead.sourced", "deal.qualified"],
        "D-eb": ["deal.qualified", "deal.eb_committed"],
        "D-com": ["deal.qualified", "deal.committee_approved"],
        "D-won": ["deal.qualified", "deal.contract_signed"],
        "D-lost": ["deal.qualified", "deal.lost"],
        "D-dq": ["lead.sourced", "deal.disqualified"],
        "D-none": ["visit.completed"],
    }
    for deal, types in stages.items():
        for type_ in types:
            log.add(type_, deal, "2026-02-15T00:00:00+00:00")
    # An event at the end itself is after the period: D-lead is still a lead then
    log.add("deal.lost", "D-lead", "2026-04-01T00:00:00+00:00")
    open_ = board(log).to_json()["totals"]["open"]
    assert open_ == {"leads": 1, "opportunities": 3, "committed_deals": 1}


def test_open_goes_to_the_owner_as_of_the_end_of_the_period() -> None:
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-02-01T00:00:00+00:00", rep_id="R-1")
    log.add("deal.reassigned", "D-1", "2026-03-31T23:59:59+00:00", to_rep_id="R-2")
    log.add("deal.reassigned", "D-1", "2026-04-01T00:00:00+00:00", to_rep_id="R-3")
    assert list(rows(board(log))) == ["R-2"]


def test_a_row_appears_only_for_a_key_with_a_non_zero_number() -> None:
    # Given R-1 with an open deal only, R-2 with inbound calls and contacts only, R-3 with an
    # outbound call that did not connect
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-02-01T00:00:00+00:00", rep_id="R-1")
    log.add("lead.sourced", "D-2", "2026-02-01T00:00:00+00:00", rep_id="R-1")
    log.add("deal.lost", "D-2", "2026-02-02T00:00:00+00:00", rep_id="R-1")
    log.add("call.logged", "D-2", "2026-03-02T00:00:00+00:00", rep_id="R-2", direction="inbound")
    log.add("lead.contacted", "D-2", "2026-03-02T00:00:00+00:00", rep_id="R-2", method="visit")
    log.add("deal.amount_revised", "D-2", "2026-03-02T00:00:00+00:00", rep_id="R-2")
    log.add("call.logged", "D-2", "2026-03-03T00:00:00+00:00", rep_id="R-3", outcome="No answer")
    assert list(rows(board(log))) == ["R-1", "R-3"]
    assert rows(board(log))["R-3"]["calls"] == 1
    assert rows(board(log))["R-3"]["talk_time_s"] == 0


def test_lead_contacted_by_visit_is_not_a_client_visit() -> None:
    log = EventLog()
    log.add("lead.contacted", "D-1", "2026-03-02T00:00:00+00:00", method="visit")
    log.add("visit.completed", "D-1", "2026-03-03T00:00:00+00:00", kind="FSI")
    totals = board(log).totals
    assert (totals.client_visits, totals.fsi_visits, totals.fua_visits) == (1, 1, 0)


def test_visits_are_events_not_deals() -> None:
    log = EventLog()
    for day in ("02", "03", "04"):
        log.add("visit.completed", "D-1", f"2026-03-{day}T00:00:00+00:00", kind="FUA")
    assert board(log).totals.client_visits == 3


def test_flow_counts_distinct_deals() -> None:
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-03-01T00:00:00+00:00")
    log.add("lead.sourced", "D-1", "2026-03-02T00:00:00+00:00")
    log.add("deal.qualified", "D-1", "2026-03-03T00:00:00+00:00")
    log.add("deal.qualified", "D-1", "2026-03-04T00:00:00+00:00")
    log.add("deal.committee_approved", "D-1", "2026-03-05T00:00:00+00:00")
    log.add("deal.committee_approved", "D-1", "2026-03-06T00:00:00+00:00")
    totals = board(log).totals
    assert (totals.leads, totals.opportunities, totals.committed_deals) == (1, 1, 1)


def test_rows_are_sorted_by_key_with_nobody_last() -> None:
    log = EventLog()
    log.add("visit.completed", "D-1", "2026-03-02T00:00:00+00:00", rep_id="R-2")
    log.add("visit.completed", "D-1", "2026-03-02T00:00:00+00:00", rep_id="R-1")
    log.add("deal.qualified", "D-2", "2026-03-02T00:00:00+00:00")  # no owner: open goes to None
    assert [row.key for row in board(log).rows] == ["R-1", "R-2", None]


class TestTeams:
    """group_by=team: flow by the acting rep's team then; open by the owner's team at the end."""

    @staticmethod
    def log() -> EventLog:
        log = EventLog()
        log.team("R-1", "North", "2026-01-01T00:00:00+00:00")
        log.team("R-1", "South", "2026-03-15T00:00:00+00:00")
        log.team("R-2", "West", "2026-04-01T00:00:00+00:00")  # from the end on: too late
        log.add("lead.sourced", "D-1", "2026-03-01T00:00:00+00:00", rep_id="R-1")
        log.add("deal.qualified", "D-1", "2026-03-10T00:00:00+00:00", rep_id="R-1")
        log.add("deal.qualified", "D-2", "2026-03-20T00:00:00+00:00", rep_id="R-1")
        log.add("lead.sourced", "D-3", "2026-03-20T00:00:00+00:00", rep_id="R-2")
        return log

    def test_flow_goes_to_the_team_at_the_event_time(self) -> None:
        by_key = rows(board(self.log(), group_by="team"))
        assert (by_key["North"]["leads"], by_key["North"]["opportunities"]) == (1, 1)
        assert (by_key["South"]["leads"], by_key["South"]["opportunities"]) == (0, 1)

    def test_open_goes_to_the_owner_s_team_at_the_end(self) -> None:
        by_key = rows(board(self.log(), group_by="team"))
        # D-1 is owned by R-1, in South by the end; D-2 has no owner; D-3's owner R-2 has no team yet
        assert by_key["North"]["open"] == {"leads": 0, "opportunities": 0, "committed_deals": 0}
        assert by_key["South"]["open"] == {"leads": 0, "opportunities": 1, "committed_deals": 0}
        assert by_key[None]["open"] == {"leads": 1, "opportunities": 1, "committed_deals": 0}
        assert by_key[None]["leads"] == 1
        assert list(by_key) == ["North", "South", None]

    def test_teams_are_as_known_at_known_at(self) -> None:
        log = self.log()
        log.team(
            "R-2", "East", "2026-01-01T00:00:00+00:00", recorded_at="2026-07-01T00:00:00+00:00"
        )
        before = rows(board(log, group_by="team", known_at="2026-06-30T00:00:00+00:00"))
        after = rows(board(log, group_by="team"))
        assert "East" not in before
        assert after["East"]["leads"] == 1

    def test_team_events_are_not_deals(self) -> None:
        totals = board(self.log(), group_by="team").totals
        assert (totals.leads, totals.opportunities, totals.open.opportunities) == (2, 2, 2)


def test_group_by_all_gives_one_row() -> None:
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-03-01T00:00:00+00:00", rep_id="R-1")
    log.add("lead.sourced", "D-2", "2026-03-01T00:00:00+00:00", rep_id="R-2")
    log.add("deal.qualified", "D-3", "2026-03-01T00:00:00+00:00", rep_id="R-2")
    result = board(log, group_by="all")
    assert [row.key for row in result.rows] == ["all"]
    assert result.rows[0].numbers == result.totals


def test_a_taipei_quarter_boundary_puts_the_event_in_q2() -> None:
    # Given a signing at 2026-04-01 00:30 Taipei time (2026-03-31T16:30Z)
    log = EventLog()
    log.add("deal.contract_signed", "D-1", "2026-03-31T16:30:00+00:00")
    taipei = ZoneInfo("Asia/Taipei")
    q1, q2 = parse_period("2026-Q1", taipei), parse_period("2026-Q2", taipei)
    # Then it is closed in Q2, not in Q1, and is not even open at the end of Q1
    in_q1 = compute_scoreboard(log.events, start=q1[0], end=q1[1], known_at=None, group_by="all")
    in_q2 = compute_scoreboard(log.events, start=q2[0], end=q2[1], known_at=None, group_by="all")
    assert (in_q1.totals.closed_deals, in_q2.totals.closed_deals) == (0, 1)
    assert in_q1.rows == ()
