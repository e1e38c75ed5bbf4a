"""Accounts in the pure fold: the deal's account key, rows by account, key marks, contacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.events.envelope import EnvelopeError, parse_event
from service.projections import compute_scoreboard
from service.projections.account_book import compute_account, compute_accounts
from service.projections.accounts import account_key
from tests.factories import ce
from tests.unit.factory import EventLog

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
AS_OF = datetime(2026, 3, 31, 12, tzinfo=UTC)


def _history() -> EventLog:
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-01-05T09:00:00Z", account={"name": "Acme", "id": "A-1"})
    log.add(
        "lead.sourced", "D-2", "2026-01-06T09:00:00Z", account={"name": "Acme Ltd", "id": "A-1"}
    )
    log.add("lead.sourced", "D-3", "2026-01-07T09:00:00Z", account={"name": "Beta"})
    log.add("deal.qualified", "D-1", "2026-02-01T09:00:00Z", rep_id="R-2")
    log.add("visit.completed", "D-2", "2026-03-01T09:00:00Z", kind="FUA")
    log.add("call.logged", "D-3", "2026-03-20T09:00:00Z")
    log.add("deal.contract_signed", "D-1", "2026-03-02T09:00:00Z")
    return log


def test_the_key_is_the_crm_id_else_the_name() -> None:
    assert account_key({"name": "Acme", "id": "A-1"}) == "A-1"
    assert account_key({"name": "Acme"}) == "Acme"
    assert account_key(None) is None


def test_rows_by_account_credit_the_deal_account_whoever_the_rep() -> None:
    log = _history()
    board = compute_scoreboard(log.events, start=START, end=END, known_at=None, group_by="account")
    rows = {row.key: row for row in board.rows}
    assert set(rows) == {"A-1", "Beta"}
    acme = rows["A-1"]
    # Two deals sourced, one qualified by R-2, one signed, one FUA visit: all the account's.
    assert (acme.numbers.leads, acme.numbers.opportunities, acme.numbers.closed_deals) == (2, 1, 1)
    assert acme.numbers.fua_visits == 1
    assert acme.numbers.open.leads == 1  # D-2 is still a lead; D-1 is won
    # The name on the latest lead.sourced of its deals.
    assert acme.account_name == "Acme Ltd"
    assert board.to_json()["rows"][0]["account_name"] == "Acme Ltd"
    assert rows["Beta"].numbers.leads == 1


def test_a_retracted_lead_sourced_takes_the_deal_out_of_its_account() -> None:
    log = _history()
    sourced = log.events[2]
    log.add(
        "event.retracted",
        "D-3",
        "2026-03-25T09:00:00Z",
        event_source=sourced.source,
        event_id=sourced.id,
        reason="wrong account",
        rep_id="R-1",
    )
    board = compute_scoreboard(log.events, start=START, end=END, known_at=None, group_by="account")
    rows = {row.key: row for row in board.rows}
    # D-3 has no account left: its outbound call counts under no account, and Beta has no row
    assert set(rows) == {"A-1", None}
    assert (rows[None].numbers.leads, rows[None].numbers.calls) == (0, 1)
    before = log.events[-1].recorded_at - timedelta(microseconds=1)
    known = compute_scoreboard(
        log.events, start=START, end=END, known_at=before, group_by="account"
    )
    assert "Beta" in {row.key for row in known.rows}


def test_key_accounts_come_first_with_days_since_the_last_contact() -> None:
    log = _history()
    log.add("account.key_set", "account:Beta", "2026-02-01T00:00:00Z", account="Beta", key=True)
    log.add("account.key_set", "account:A-1", "2026-04-02T00:00:00Z", account="A-1", key=True)
    listed = compute_accounts(log.events, start=START, end=END, as_of=AS_OF, known_at=None)
    assert [(a.key, a.key_account) for a in listed] == [("Beta", True), ("A-1", False)]
    beta, acme = listed
    assert beta.last_contact_at == datetime(2026, 3, 20, 9, tzinfo=UTC)
    assert beta.days_since_contact == 11
    assert acme.days_since_contact == 30
    assert acme.deals == 2
    detail = compute_account(log.events, "A-1", start=START, end=END, as_of=AS_OF, known_at=None)
    assert detail is not None
    assert [(d.deal_id, d.stage) for d in detail.deals] == [("D-1", "won"), ("D-2", "lead")]
    assert [c.deal_id for c in detail.contacts] == ["D-2"]
    assert (
        compute_account(log.events, "Nobody", start=START, end=END, as_of=AS_OF, known_at=None)
        is None
    )


@pytest.mark.parametrize(
    ("subject", "data", "pointer"),
    [
        ("A-1", {"account": "A-1", "key": True}, "/subject"),
        ("account:A-1", {"account": "A-1", "key": "true"}, "/data/key"),
        ("account:A-1", {"key": True}, "/data/account"),
        ("account:A-1", {"account": "A-1", "key": True, "owner": "R-1"}, "/data/owner"),
    ],
)
def test_a_bad_key_set_event_is_refused_naming_the_field(
    subject: str, data: dict[str, object], pointer: str
) -> None:
    with pytest.raises(EnvelopeError) as refused:
        parse_event(ce("account.key_set", subject, "2026-01-01T00:00:00Z", data))
    assert pointer in [error.pointer for error in refused.value.errors]


def test_key_set_and_account_ids_are_accepted_and_deals_stay_off_account_streams() -> None:
    mark = {"account": "Formosa Foods", "key": True, "note": "top 10"}
    assert parse_event(ce("account.key_set", "account:ff", "2026-01-01T00:00:00Z", mark))
    lead = {"rep_id": "R-1", "account": {"name": "Acme", "id": "001xx0000ABC"}, "channel": "web"}
    assert parse_event(ce("lead.sourced", "D-1", "2026-01-01T00:00:00Z", lead)).data.model_dump(
        exclude_none=True
    )["account"] == {"name": "Acme", "id": "001xx0000ABC"}
    with pytest.raises(EnvelopeError) as refused:
        parse_event(ce("lead.sourced", "account:A-1", "2026-01-01T00:00:00Z", lead))
    assert "/subject" in [error.pointer for error in refused.value.errors]
