"""The dashboard over HTTP: sign-in, sessions, and numbers equal to the API's."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from service.application.demo_load import load
from service.demo import generate
from service.keys.api_keys import Scope
from tests.conftest import bearer
from tests.e2e.dashboard_html import (
    FIVE,
    api_row,
    api_totals,
    shown_key_accounts,
    shown_rows,
    shown_stages,
    shown_totals,
    shows_calls,
)
from tests.factories import ce

pytestmark = pytest.mark.e2e


SAME_SITE = {"Origin": "http://testserver"}  # what a browser sends with the sign-in form


async def sign_in(client, token: str, next_: str = "/"):
    return await client.post("/login", data={"key": token, "next": next_}, headers=SAME_SITE)


@pytest.fixture
async def demo(app):
    await load(app.state.services.appender, generate(seed=4, quarter="2026-Q1", deals=120))


@pytest.fixture
async def signed_in(client, tokens):
    response = await sign_in(client, tokens["read"])
    assert response.status_code == 303
    return client


async def test_without_a_session_the_dashboard_sends_to_sign_in(client):
    response = await client.get("/?period=2026-Q1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote("/?period=2026-Q1", safe="")
    page = await client.get("/login")
    assert page.status_code == 200
    assert 'name="key"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


async def test_a_bad_key_is_rejected_and_gets_no_cookie(client, tokens):
    for token in ("", "nope", "fl_0000000000000000_" + "0" * 48, tokens["read"] + "x"):
        response = await sign_in(client, token)
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert 'id="signin-error"' in response.text


async def test_a_key_without_read_scope_is_refused(client, tokens):
    response = await sign_in(client, tokens["events:write"])
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_sign_in_sets_a_signed_http_only_strict_cookie_without_the_key(client, tokens):
    token = tokens["read"]
    response = await sign_in(client, token, next_="/?period=2026-Q1")
    assert response.status_code == 303
    assert response.headers["location"] == "/?period=2026-Q1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("fl_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Max-Age=28800" in cookie
    assert token.split("_")[2] not in cookie
    assert (await client.get("/")).status_code == 200


async def test_an_admin_key_may_sign_in(client, tokens):
    assert (await sign_in(client, tokens["admin"])).status_code == 303
    assert (await client.get("/")).status_code == 200


async def test_a_forged_or_tampered_cookie_is_no_session(signed_in):
    genuine = signed_in.cookies["fl_session"]
    for value in ("forged", genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB")):
        signed_in.cookies.set("fl_session", value)
        assert (await signed_in.get("/")).status_code == 303


async def test_sign_out_ends_the_session(signed_in):
    response = await signed_in.post("/logout", headers=SAME_SITE)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert 'fl_session=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert (await signed_in.get("/")).status_code == 303


async def test_revoking_the_key_ends_its_sessions(app, client):
    issued = await app.state.services.keys.create("ui", frozenset({Scope.READ}))
    await sign_in(client, issued.token)
    assert (await client.get("/")).status_code == 200
    await app.state.services.keys.revoke(issued.key.key_id)
    assert (await client.get("/")).status_code == 303


async def test_sign_in_from_another_site_is_refused(client, tokens):
    response = await client.post(
        "/login", data={"key": tokens["read"]}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_sign_in_only_redirects_within_the_site(client, tokens):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = await sign_in(client, tokens["read"], next_=target)
        assert response.headers["location"] == "/"


async def test_the_numbers_on_the_page_equal_the_api(signed_in, tokens, demo):
    page = await signed_in.get("/?period=2026-Q1&as_of=2026-02-15")
    api = await signed_in.get(
        "/v1/scoreboard?from=2026-01-01&to=2026-02-16&group_by=rep", headers=bearer(tokens["read"])
    )
    funnel = await signed_in.get("/v1/funnel?as_of=2026-02-15", headers=bearer(tokens["read"]))

    assert page.status_code == 200
    board = api.json()
    # The demo's T-SOUTH sells by phone: its reps' rows, and so the page, show calls
    calls = shows_calls(board)
    assert calls and board["totals"]["calls"] > 0
    assert shown_totals(page.text) == api_totals(board["totals"], calls=calls)
    assert shown_rows(page.text) == {row["key"]: api_row(row, calls=calls) for row in board["rows"]}
    assert shown_stages(page.text) == funnel.json()["stages"]
    assert board["totals"]["closed_deals"] > 0


async def test_the_key_accounts_on_the_page_equal_the_api(signed_in, tokens, demo):
    page = await signed_in.get("/?period=2026-Q1&as_of=2026-03-31")
    api = await signed_in.get(
        "/v1/accounts?period=2026-Q1&as_of=2026-03-31", headers=bearer(tokens["read"])
    )
    keyed = [account for account in api.json()["accounts"] if account["key_account"]]
    # The demo marks five accounts and unmarks one mid-quarter.
    assert len(keyed) == 4
    expected = {
        account["key"]: {
            **{name: account[name] for name in FIVE},
            **(
                {"days_since_contact": account["days_since_contact"]}
                if account["days_since_contact"] is not None
                else {}
            ),
        }
        for account in keyed
    }
    assert shown_key_accounts(page.text) == expected
    assert all(account["name"] in page.text for account in keyed)


async def test_the_default_view_is_the_quarter_of_the_newest_event_to_its_end(signed_in, demo):
    page = await signed_in.get("/")
    assert '<h1 id="period-title">2026-Q1</h1>' in page.text
    assert 'id="as-of" value="2026-03-31"' in page.text


async def test_team_rows_equal_the_api(signed_in, tokens, demo):
    page = await signed_in.get("/?period=2026-Q1&rows=team")
    api = await signed_in.get(
        "/v1/scoreboard?period=2026-Q1&group_by=team", headers=bearer(tokens["read"])
    )
    board = api.json()
    calls = shows_calls(board)
    assert calls
    assert shown_rows(page.text) == {row["key"]: api_row(row, calls=calls) for row in board["rows"]}
    # Near the targets, the period's working days: Q1 2026 has 64 weekdays; the demo's holiday
    # (Friday 13 February) is off and its make-up Saturday (21 February) worked
    shown = re.search(r'id="working-days" data-working-days="([0-9.]+)">', page.text)
    assert shown is not None
    assert float(shown.group(1)) == board["working_days"] == 64.0


async def test_calls_are_shown_only_while_a_team_watches_them(signed_in, tokens, demo):
    phoning = await signed_in.get("/?period=2026-Q1&rows=team")
    assert 'id="card-calls"' in phoning.text
    assert 'data-metric="talk_time_s" data-seconds="' in phoning.text
    # When T-SOUTH stops watching calls from the start of the quarter (a later priorities event)
    later = ce(
        "team.priorities_set",
        "team:T-SOUTH",
        "2025-12-31T12:00:00+00:00",
        {"metrics": ["leads", "opportunities"]},
        id="priorities-no-calls",
    )
    stored = await signed_in.post("/v1/events", json=later, headers=bearer(tokens["events:write"]))
    assert stored.status_code == 201, stored.text
    # Then the quarter's dashboard shows no calls, while the API still counts them
    quiet = await signed_in.get("/?period=2026-Q1&rows=team")
    assert 'id="card-calls"' not in quiet.text and "data-seconds" not in quiet.text
    api = await signed_in.get(
        "/v1/scoreboard?period=2026-Q1&group_by=team", headers=bearer(tokens["read"])
    )
    assert api.json()["totals"]["calls"] > 0 and not shows_calls(api.json())


async def test_as_known_then_sets_known_at_to_the_as_of_instant(signed_in, tokens, demo):
    page = await signed_in.get("/?period=2026-Q1&as_of=2026-02-15&known=then")
    known_at = re.search(r'data-known-at="([^"]+)"', page.text)
    assert known_at
    assert datetime.fromisoformat(known_at[1]) == datetime(
        2026, 2, 15, 23, 59, 59, 999999, tzinfo=UTC
    )
    api = await signed_in.get(
        "/v1/scoreboard",
        params={"from": "2026-01-01", "to": "2026-02-16", "known_at": known_at[1]},
        headers=bearer(tokens["read"]),
    )
    # The demo was recorded today: in February nothing of it was known yet.
    board = api.json()
    assert shown_totals(page.text) == api_totals(board["totals"], calls=shows_calls(board))
    assert board["totals"]["leads"] == 0


async def test_zh_tw_labels_and_the_language_cookie(signed_in, demo):
    page = await signed_in.get("/?period=2026-Q1&lang=zh-TW")
    assert '<html lang="zh-TW">' in page.text
    assert "成交案件" in page.text
    assert "fl_lang=zh-TW" in page.headers["set-cookie"]
    assert "成交案件" in (await signed_in.get("/?period=2026-Q1")).text
    english = await signed_in.get("/?period=2026-Q1&lang=en")
    assert "Closed deals" in english.text


async def test_the_as_of_day_stays_within_the_period_and_bad_values_are_reported(signed_in):
    page = await signed_in.get("/?period=2026-Q1&as_of=2026-07-01")
    assert 'id="as-of" value="2026-03-31"' in page.text
    bad = await signed_in.get("/?period=nonsense&as_of=yesterday")
    assert bad.status_code == 200
    assert "period, as_of" in bad.text


async def test_every_asset_is_local(signed_in, demo):
    page = await signed_in.get("/?period=2026-Q1")
    links = re.findall(r'(?:src|href|action)="([^"]*)"', page.text)
    assert links
    assert all(link.startswith(("/", "?")) and not link.startswith("//") for link in links)
    for asset in ("/static/dashboard.css", "/static/dashboard.js", "/static/favicon.svg"):
        assert (await signed_in.get(asset)).status_code == 200


async def test_html_routes_stay_out_of_the_openapi_document(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/", "/login", "/logout"} & set(paths)
