"""Accounts through HTTP: rows by account, key accounts, an account's page, CSV, problems."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from service.projections import compute_scoreboard
from service.projections.account_book import compute_account, compute_accounts
from tests.conftest import bearer
from tests.factories import ce, retraction, visit
from tests.histories import recorded_from_feed

pytestmark = pytest.mark.e2e

Q1 = {"from": "2026-01-01", "to": "2026-04-01"}
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


def lead(deal: str, time: str, event_id: str, **account: Any) -> dict[str, Any]:
    data = {"rep_id": "R-1", "account": account, "channel": "web"}
    return ce("lead.sourced", deal, time, data, id=event_id)


def mark(key: str, time: str, event_id: str, *, key_account: bool, **extra: Any) -> dict[str, Any]:
    data = {"account": key, "key": key_account, **extra}
    return ce("account.key_set", f"account:{event_id}", time, data, id=event_id)


async def post(client: httpx.AsyncClient, tokens: dict[str, str], *events: Any) -> httpx.Response:
    return await client.post(
        "/v1/events",
        content=orjson.dumps(list(events)),
        headers={**bearer(tokens["events:write"]), "Content-Type": "application/json"},
    )


async def get(
    client: httpx.AsyncClient, tokens: dict[str, str], path: str, **params: str
) -> httpx.Response:
    return await client.get(path, params=params, headers=bearer(tokens["read"]))


async def _log(client: httpx.AsyncClient, tokens: dict[str, str]) -> list[Any]:
    feed = await get(client, tokens, "/v1/events", after="0")
    return [recorded_from_feed(item) for item in feed.json()["events"]]


async def _story(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    given = await post(
        client,
        tokens,
        lead("D-1", "2026-01-05T09:00:00Z", "s1", name="Formosa Foods", id="001A"),
        lead("D-2", "2026-01-06T09:00:00Z", "s2", name="Formosa Foods Ltd", id="001A"),
        lead("D-3", "2026-01-07T09:00:00Z", "s3", name="Lin / Sons Trading"),
        visit("D-1", "R-2", "2026-02-02T09:00:00Z", kind="FSI", id="v1"),
        visit("D-3", "R-1", "2026-03-10T09:00:00Z", kind="FUA", id="v2"),
        mark("Lin / Sons Trading", "2026-01-02T00:00:00Z", "k1", key_account=True, note="top"),
    )
    assert given.status_code == 201, given.text


async def test_rows_by_account_credit_the_deals_account_and_name_it(client, tokens):
    await _story(client, tokens)
    response = await get(client, tokens, "/v1/scoreboard", **Q1, group_by="account")
    assert response.status_code == 200, response.text
    rows = {row["key"]: row for row in response.json()["rows"]}
    assert set(rows) == {"001A", "Lin / Sons Trading"}
    assert rows["001A"]["account_name"] == "Formosa Foods Ltd"
    assert (rows["001A"]["leads"], rows["001A"]["fsi_visits"]) == (2, 1)
    log = await _log(client, tokens)
    board = compute_scoreboard(log, start=START, end=END, known_at=None, group_by="account")
    assert response.json()["rows"] == board.to_json()["rows"]
    # The CSV names each account after its key.
    text = (await get(client, tokens, "/v1/scoreboard.csv", **Q1, group_by="account")).text
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [(line["key"], line["account_name"]) for line in lines[:2]] == [
        ("001A", "Formosa Foods Ltd"),
        ("Lin / Sons Trading", "Lin / Sons Trading"),
    ]


async def test_key_accounts_come_first_and_a_retracted_mark_is_gone(client, tokens):
    await _story(client, tokens)
    params = {**Q1, "as_of": "2026-03-31"}
    listed = await get(client, tokens, "/v1/accounts", **params)
    assert listed.status_code == 200, listed.text
    accounts = listed.json()["accounts"]
    assert [(a["key"], a["key_account"]) for a in accounts] == [
        ("Lin / Sons Trading", True),
        ("001A", False),
    ]
    assert [a["days_since_contact"] for a in accounts] == [21, 57]
    log = await _log(client, tokens)
    at = datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)
    expected = compute_accounts(log, start=START, end=END, as_of=at, known_at=None)
    assert accounts == [summary.to_json() for summary in expected]
    before = datetime.now(UTC).isoformat()
    undo = retraction(
        "account:k1", "R-1", "2026-03-01T00:00:00Z", {"source": "crm", "id": "k1"}, id="x1"
    )
    assert (await post(client, tokens, undo)).status_code == 201
    now = (await get(client, tokens, "/v1/accounts", **params)).json()["accounts"]
    assert [a["key_account"] for a in now] == [False, False]
    then = await get(client, tokens, "/v1/accounts", **params, known_at=before)
    assert then.json()["accounts"] == accounts


async def test_an_account_page_lists_its_deals_and_contacts(client, tokens):
    await _story(client, tokens)
    params = {**Q1, "as_of": "2026-03-31"}
    one = await get(client, tokens, "/v1/accounts/001A", **params)
    assert one.status_code == 200, one.text
    body = one.json()
    assert [deal["deal_id"] for deal in body["deal_list"]] == ["D-1", "D-2"]
    assert [(c["deal_id"], c["kind"], c["rep_id"]) for c in body["contacts"]] == [
        ("D-1", "FSI", "R-2")
    ]
    log = await _log(client, tokens)
    at = datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)
    detail = compute_account(log, "001A", start=START, end=END, as_of=at, known_at=None)
    assert detail is not None
    assert {
        k: v for k, v in body.items() if k not in ("from", "to", "as_of", "known_at", "position")
    } == detail.to_json()
    # A key with a slash and spaces, percent-encoded
    named = await get(
        client, tokens, "/v1/accounts/" + quote("Lin / Sons Trading", safe=""), **params
    )
    assert named.status_code == 200, named.text
    assert named.json()["key_account"] is True
    # Before the deals were sourced, the account is unknown: 404 as a problem
    early = await get(client, tokens, "/v1/accounts/001A", period="2025-Q4")
    assert early.status_code == 404, early.text
    assert early.headers["content-type"] == "application/problem+json"


async def test_the_account_list_as_csv_and_bad_input(client, tokens):
    await _story(client, tokens)
    text = (await get(client, tokens, "/v1/accounts", **Q1, format="csv", as_of="2026-03-31")).text
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [(line["key"], line["key_account"], line["leads"]) for line in lines] == [
        ("Lin / Sons Trading", "true", "1"),
        ("001A", "false", "2"),
    ]
    missing = await get(client, tokens, "/v1/accounts")
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    bad_mark = await post(
        client, tokens, ce("account.key_set", "account:x", "2026-01-01T00:00:00Z", {"key": True})
    )
    assert bad_mark.status_code == 422
    assert "/data/account" in [e["pointer"] for e in bad_mark.json()["errors"]]
    bad_id = await post(
        client,
        tokens,
        lead("D-9", "2026-01-01T00:00:00Z", "s9", name="Acme", id=""),
    )
    assert bad_id.status_code == 422
    assert "/data/account/id" in [e["pointer"] for e in bad_id.json()["errors"]]
    no_key = await get(client, tokens, "/v1/accounts", period="2026-Q1")
    assert no_key.status_code == 200
