"""CSV and JSON Lines exports: stable columns, equal to the pure folds on generated histories."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.application.bi_exports import DEAL_COLUMNS, FACT_COLUMNS, deal_row
from service.events.recorded import RecordedEvent
from service.projections import deal_state_at, is_deal, visible
from service.projections.analytics import Window
from service.projections.facts import flow_fact
from service.projections.teams import team_at, team_history
from service.store.chain.hashing import iso
from tests import databases
from tests.conftest import bearer
from tests.e2e.live_service import LiveService, live_service
from tests.factories import sourced
from tests.histories import DEALS, INSTANTS, PERIODS, Delivery, deliveries, known_ats

pytestmark = pytest.mark.e2e

PROPERTY = settings(
    max_examples=5,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def expected_deals(
    log: list[RecordedEvent], as_of: datetime, known_at: datetime
) -> list[dict[str, Any]]:
    """The deals export from the pure fold."""
    teams = team_history(visible(log, as_of=None, known_at=known_at))
    rows = []
    for deal in sorted(DEALS):
        state = deal_state_at(deal, log, as_of=as_of, known_at=known_at)
        if state is not None:
            rows.append(deal_row(state, team_at(teams, state.owner_rep_id, as_of)))
    return rows


def expected_facts(
    log: list[RecordedEvent], window: Window, known_at: datetime
) -> list[dict[str, Any]]:
    """The facts export from the pure fold: counting flow events of the window, by position."""
    known = visible(log, as_of=window.last, known_at=known_at)
    teams = team_history(visible(log, as_of=None, known_at=known_at))
    facts = [
        flow_fact(event)
        for event in known
        if is_deal(event.subject) and event.occurred_at >= window.start
    ]
    return [
        {
            **{column: getattr(fact, column) for column in FACT_COLUMNS if column != "team_id"},
            "team_id": team_at(teams, fact.rep_id, fact.occurred_at),
            "occurred_at": iso(fact.occurred_at),
            "recorded_at": iso(fact.recorded_at),
        }
        for fact in sorted((f for f in facts if f is not None), key=lambda f: f.position)
    ]


def _as_text(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[list[str]]:
    return [["" if row[c] is None else str(row[c]) for c in columns] for row in rows]


async def _download(service: LiveService, path: str, fmt: str, **params: Any) -> str:
    response = await service.client.get(
        path, params={"format": fmt, **params}, headers=bearer(service.reader)
    )
    assert response.status_code == 200, response.text
    return response.text


async def _assert_exports(
    service: LiveService, log: list[RecordedEvent], window: Window, known_at: datetime
) -> None:
    instants = {"as_of": window.as_of.isoformat(), "known_at": known_at.isoformat()}
    deals = expected_deals(log, window.as_of, known_at)
    text = await _download(service, "/v1/exports/deals", "csv", **instants)
    assert list(csv.reader(io.StringIO(text))) == [
        list(DEAL_COLUMNS),
        *_as_text(deals, DEAL_COLUMNS),
    ]
    lines = (await _download(service, "/v1/exports/deals", "jsonl", **instants)).splitlines()
    assert [orjson.loads(line) for line in lines] == deals
    period = {"from": window.start.isoformat(), "to": window.end.isoformat(), **instants}
    facts = expected_facts(log, window, known_at)
    text = await _download(service, "/v1/exports/facts", "csv", **period)
    assert list(csv.reader(io.StringIO(text))) == [
        list(FACT_COLUMNS),
        *_as_text(facts, FACT_COLUMNS),
    ]
    lines = (await _download(service, "/v1/exports/facts", "jsonl", **period)).splitlines()
    assert [orjson.loads(line) for line in lines] == facts


@PROPERTY
@given(delivery=deliveries(max_events=16), data=st.data())
async def test_exports_equal_the_pure_fold(
    test_server: databases.TestServer, delivery: Delivery, data: st.DataObject
) -> None:
    # Given a service holding a generated history
    async with live_service(test_server) as service:
        for batch in delivery:
            await service.post(list(batch))
        log = await service.log()
        for _ in range(2):
            # When deals and facts are exported for some window, as of and known at some instants
            start, end = data.draw(st.sampled_from(PERIODS), label="period")
            as_of = data.draw(st.sampled_from([*INSTANTS, datetime.now(UTC)]), label="as_of")
            known_at = data.draw(
                st.sampled_from([*known_ats(log), datetime.now(UTC)]), label="known_at"
            )
            # Then both formats hold exactly the pure fold's rows
            await _assert_exports(service, log, Window(start, end, as_of), known_at)


async def test_an_export_is_a_download_with_a_header_row(client, tokens):
    event = sourced("D-1", "R-1", "2026-01-05T00:00:00Z")
    await client.post("/v1/events", json=event, headers=bearer(tokens["events:write"]))
    response = await client.get("/v1/exports/deals", headers=bearer(tokens["read"]))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="deals.csv"'
    header, row = response.text.splitlines()
    assert header.split(",") == list(DEAL_COLUMNS)
    assert row.startswith("D-1,lead,R-1,,Account of D-1,,,web,")
    jsonl = await client.get(
        "/v1/exports/facts",
        params={"period": "2026-Q1", "format": "jsonl"},
        headers=bearer(tokens["read"]),
    )
    assert jsonl.headers["content-type"] == "application/x-ndjson"
    assert orjson.loads(jsonl.text)["kind"] == "sourced"
    bad = await client.get(
        "/v1/exports/deals", params={"format": "xml"}, headers=bearer(tokens["read"])
    )
    assert bad.status_code == 422
