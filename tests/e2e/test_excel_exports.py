"""CSV that opens right in Excel: a byte-order mark on request (always from the dashboard), and
the scoreboard's targets and attainment in its CSV."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import bearer
from tests.factories import ce, signed, sourced, visit

pytestmark = pytest.mark.e2e

SAME_SITE = {"Origin": "http://testserver"}
ACCOUNT = "臺灣高山茶業股份有限公司"
TEAM = "North"


def read_back(body: bytes) -> list[dict[str, str]]:
    """The rows as Excel would read them: UTF-8 with its byte-order mark taken off."""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


@pytest.fixture
async def history(client, tokens):
    events = [
        ce("rep.team_assigned", "rep:R-1", "2025-12-01T00:00:00Z", {"team_id": TEAM}),
        ce(
            "target.set",
            "rep:R-1",
            "2025-12-20T00:00:00Z",
            {"metric": "leads", "period": "month", "value": 4},
        ),
        ce(
            "target.set",
            "team:" + TEAM,
            "2025-12-20T00:00:00Z",
            {"metric": "closed_deals", "period": "quarter", "value": 4},
        ),
        ce(
            "lead.sourced",
            "D-1",
            "2026-02-01T10:00:00Z",
            {"rep_id": "R-1", "account": {"name": ACCOUNT}, "channel": "referral"},
        ),
        *(sourced(f"D-{n}", "R-1", f"2026-02-0{n}T10:00:00Z") for n in range(2, 7)),
        visit("D-1", "R-1", "2026-02-03T10:00:00Z"),
        signed("D-1", "R-1", "2026-03-03T10:00:00Z", amount="125000.00"),
    ]
    response = await client.post("/v1/events", json=events, headers=bearer(tokens["events:write"]))
    assert response.status_code == 201, response.text


async def _get(client, token: str, path: str, **params: str):
    response = await client.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("group_by", ["rep", "team"])
async def test_the_scoreboard_csv_carries_targets_and_attainment(client, tokens, history, group_by):
    # Given a quarter with targets per rep and per team
    token = tokens["read"]
    query = {"period": "2026-Q1", "group_by": group_by}
    # When the scoreboard is asked as JSON and as CSV with a byte-order mark
    board = (await _get(client, token, "/v1/scoreboard", **query)).json()
    body = (await _get(client, token, "/v1/scoreboard", **query, format="csv", bom="true")).content
    # Then the CSV starts with the mark, and read back its rows and totals say what the JSON says
    assert body.startswith("\ufeff".encode())
    rows = read_back(body)
    expected = [*board["rows"], board["totals"]]
    assert [row["row"] for row in rows] == ["row"] * len(board["rows"]) + ["totals"]
    assert [row["key"] for row in rows[:-1]] == [row["key"] for row in board["rows"]]
    with_targets = {metric for numbers in expected for metric in numbers["targets"]}
    assert with_targets == ({"leads"} if group_by == "rep" else {"closed_deals"})
    assert {name for name in rows[0] if name.startswith(("target_", "attainment_"))} == {
        f"{kind}_{metric}" for metric in with_targets for kind in ("target", "attainment")
    }
    for line, numbers in zip(rows, expected, strict=True):
        assert line["leads"] == str(numbers["leads"])
        assert line["closed_value_TWD"] == numbers["closed_value"].get("TWD", "0")
        for metric in with_targets:
            target = numbers["targets"].get(metric)
            got = line[f"target_{metric}"]
            assert (float(got) if got else None) == target
            attained = numbers["attainment"].get(metric)
            got = line[f"attainment_{metric}"]
            assert (float(got) if got else None) == attained
    if group_by == "team":
        assert rows[0]["key"] == TEAM
        assert rows[0]["target_closed_deals"] == "4"
        assert rows[0]["attainment_closed_deals"] == "0.25"
    else:
        assert rows[0]["target_leads"] == "12"
        assert rows[0]["attainment_leads"] == "0.5"


async def test_a_scoreboard_without_targets_has_no_target_columns(client, tokens):
    events = [sourced("D-1", "R-1", "2026-02-01T10:00:00Z")]
    await client.post("/v1/events", json=events, headers=bearer(tokens["events:write"]))
    body = (
        await _get(client, tokens["read"], "/v1/scoreboard", period="2026-Q1", format="csv")
    ).text
    header = body.splitlines()[0].split(",")
    assert not [name for name in header if name.startswith(("target_", "attainment_"))]


async def test_exports_start_with_a_byte_order_mark_only_when_asked(client, tokens, history):
    token = tokens["read"]
    for path in ("/v1/exports/deals", "/v1/exports/facts"):
        period = {"period": "2026-Q1"} if path.endswith("facts") else {}
        plain = (await _get(client, token, path, **period)).content
        marked = (await _get(client, token, path, **period, bom="true")).content
        # Programs reading CSV get no mark by default; Excel users ask for one
        assert not plain.startswith(b"\xef\xbb\xbf")
        assert marked == b"\xef\xbb\xbf" + plain
        jsonl = (await _get(client, token, path, **period, format="jsonl", bom="true")).content
        assert not jsonl.startswith(b"\xef\xbb\xbf")
    deals = read_back((await _get(client, token, "/v1/exports/deals", bom="true")).content)
    assert next(row for row in deals if row["deal_id"] == "D-1")["account_name"] == ACCOUNT
    assert next(iter(deals[0])) == "deal_id"


async def test_the_scoreboard_without_bom_is_unchanged(client, tokens, history):
    body = (
        await _get(client, tokens["read"], "/v1/scoreboard", period="2026-Q1", format="csv")
    ).content
    assert body.startswith(b"row,key,rep_name,closed_deals,")


async def test_the_dashboard_links_a_csv_download_that_opens_in_excel(client, tokens, history):
    # Given a signed-in dashboard on a quarter, per team
    signed_in = await client.post(
        "/login", data={"key": tokens["read"], "next": "/"}, headers=SAME_SITE
    )
    assert signed_in.status_code == 303
    page = await client.get("/", params={"period": "2026-Q1", "rows": "team", "lang": "zh-TW"})
    assert page.status_code == 200
    # When its "Download CSV" link is followed
    link = page.text.split('id="download-csv"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert link.startswith("/scoreboard.csv?")
    assert "下載 CSV" in page.text
    download = await client.get(link.replace("&amp;", "&"))
    # Then it is an attachment, with a byte-order mark, equal to the API's CSV of that view
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"].startswith("attachment; filename=")
    assert download.content.startswith(b"\xef\xbb\xbf")
    api = await _get(
        client,
        tokens["read"],
        "/v1/scoreboard",
        **{"from": "2026-01-01", "to": "2026-04-01", "group_by": "team", "format": "csv"},
    )
    assert download.content == b"\xef\xbb\xbf" + api.content
    assert read_back(download.content)[0]["key"] == TEAM


async def test_the_csv_download_needs_a_session(client):
    response = await client.get("/scoreboard.csv?period=2026-Q1")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
