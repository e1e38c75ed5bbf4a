"""The dashboard's pure parts: the view and its API mapping, charts, cards, catalogs, sessions."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.application.weekly_meeting import Move, StageValue, WeeklyMeeting
from service.keys.api_keys import ApiKey, Scope
from service.web import i18n
from service.web.board import Board
from service.web.charts import WIDTH, Share, funnel_bars
from service.web.meeting import amount, weekly_page
from service.web.page import cards, charts, has_goals, money, picker, shows_calls, talk_time
from service.web.routes import _local, _templates
from service.web.sessions import SessionSigner, may_read
from service.web.view import View, neighbour, parse_view, shortcut_of, slider

TAIPEI = ZoneInfo("Asia/Taipei")
TODAY = date(2026, 11, 26)


def view(**params: str) -> View:
    parsed, errors = parse_view(params, TAIPEI, anchor=date(2026, 2, 10), today=TODAY)
    assert errors == []
    return parsed


def test_no_period_means_the_quarter_of_the_newest_event_to_its_last_day():
    shown = view()
    assert (shown.shortcut, shown.first, shown.after) == (
        "2026-Q1",
        date(2026, 1, 1),
        date(2026, 4, 1),
    )
    assert shown.as_of == date(2026, 3, 31)


def test_the_view_maps_to_the_scoreboard_from_to_and_the_funnel_as_of():
    # Given the as-of day 2026-02-15 in Taipei (UTC+8)
    shown = view(period="2026-Q1", as_of="2026-02-15")
    # Then from = 2026-01-01 00:00, to = 2026-02-16 00:00, as_of = known_at (then) = its end
    assert shown.start(TAIPEI) == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert shown.end(TAIPEI) == datetime(2026, 2, 15, 16, tzinfo=UTC)
    assert shown.as_of_instant(TAIPEI) == shown.end(TAIPEI) - timedelta(microseconds=1)


def test_the_as_of_day_is_clamped_to_the_period_and_to_today():
    assert view(period="2026-Q1", as_of="2025-06-01").as_of == date(2026, 1, 1)
    assert view(period="2026-Q4").as_of == TODAY
    assert view(period="2027-Q1").as_of == date(2027, 1, 1)
    current = view(period="2026-Q4", as_of="2026-12-20")
    assert current.as_of == TODAY
    assert slider(current, TODAY) == ((TODAY - date(2026, 10, 1)).days,) * 2


def test_custom_periods_and_invalid_parameters():
    custom = view(**{"from": "2026-02-01", "to": "2026-02-08", "known": "then", "rows": "team"})
    assert (custom.shortcut, custom.last_day, custom.known_then, custom.rows) == (
        None,
        date(2026, 2, 7),
        True,
        "team",
    )
    assert custom.query() == {
        "from": "2026-02-01",
        "to": "2026-02-08",
        "as_of": "2026-02-07",
        "known": "then",
        "rows": "team",
    }
    fallback, errors = parse_view(
        {"period": "2026-Q9", "from": "2026-03-01", "to": "2026-02-01", "as_of": "x"},
        TAIPEI,
        anchor=date(2026, 2, 10),
        today=TODAY,
    )
    assert fallback.shortcut == "2026-Q1"
    assert errors == ["period", "to", "as_of"]


def test_shortcuts_and_their_neighbours():
    day = date(2026, 1, 1)
    assert [shortcut_of(kind, day) for kind in ("quarter", "month", "week")] == [
        "2026-Q1",
        "2026-01",
        "2026-W01",
    ]
    assert neighbour(view(period="2026-Q1"), -1, TAIPEI) == "2025-Q4"
    assert neighbour(view(period="2026-12"), 1, TAIPEI) == "2027-01"
    assert neighbour(view(period="2026-W53"), 1, TAIPEI) == "2027-W01"
    assert neighbour(view(**{"from": "2026-01-05", "to": "2026-01-09"}), 1, TAIPEI) is None
    links = picker(view(period="2026-Q1", as_of="2026-02-15"), TODAY, TAIPEI)
    assert links.month == "/?period=2026-02&as_of=2026-02-28"
    assert links.previous == "/?period=2025-Q4&as_of=2025-12-31"


def test_funnel_bars_are_centred_and_scaled_to_the_largest_stage():
    funnel, closed, height = funnel_bars(
        {"lead": 40, "opportunity": 20, "eb_committed": 0, "won": 5, "lost": 10}
    )
    assert [bar.width for bar in funnel] == [WIDTH, WIDTH / 2, 0, 0, WIDTH / 8]
    assert funnel[1].x == WIDTH / 4
    assert [bar.count for bar in closed] == [10, 0]
    assert closed[0].x == 0
    assert height > closed[-1].y
    assert funnel_bars({})[0][0].width == 0


def test_the_visit_share():
    assert (Share(1, 2).fsi_percent, Share(1, 2).fua_percent) == (33, 67)
    assert Share(1, 3).fsi_width == WIDTH / 4
    assert (Share(0, 0).fsi_percent, Share(0, 0).fua_percent, Share(0, 0).fsi_width) == (0, 0, 0)


NUMBERS = {
    "closed_deals": 3,
    "committed_deals": 4,
    "opportunities": 9,
    "leads": 20,
    "client_visits": 30,
    "fsi_visits": 10,
    "fua_visits": 20,
    "closed_value": {"TWD": "1250000.00"},
    "open": {"leads": 5, "opportunities": 6, "committed_deals": 2},
    "conversion": {"lead_to_opportunity": 0.45},
}


def test_cards_show_attainment_and_priorities_only_when_a_plan_sets_them():
    plain = cards(NUMBERS)
    assert [(c.metric, c.value, c.attainment, c.target) for c in plain][:2] == [
        ("closed_deals", 3, None, None),
        ("committed_deals", 4, None, None),
    ]
    assert plain[2].open_value == 6
    planned = cards(
        {
            **NUMBERS,
            "targets": {"closed_deals": "4", "leads": 12.5},
            "attainment": {"closed_deals": 0.75, "leads": 1.6},
            "priorities": ["leads"],
        }
    )
    assert [(c.attainment, c.target, c.priority) for c in planned if c.target] == [
        (75, "4", False),
        (160, "12.5", True),
    ]
    assert money({"TWD": "1250000.00", "USD": "10.50"}) == ["TWD 1,250,000", "USD 10"]


def _render(language: str, numbers: dict[str, Any]) -> str:
    board = Board(
        {"rows": [{"key": "R-01", **numbers}], "totals": numbers},
        {"lead": 5, "won": 1},
        datetime(2026, 2, 15, tzinfo=UTC),
        42,
    )
    shown = view(period="2026-Q1", as_of="2026-02-15")
    return _templates.get_template("dashboard.html").render(
        t=i18n.translator(language),
        lang=language,
        lang_urls={"en": "/?lang=en", "zh-TW": "/?lang=zh-TW"},
        key=ApiKey("k1", "ui", frozenset({Scope.READ}), board.known_at, None, None, None),
        view=shown,
        invalid=[],
        fallback=False,
        current_quarter="2026-Q1",
        board=board,
        totals=numbers,
        cards=cards(numbers, calls=shows_calls(board)),
        rows=[(row, cards(row, calls=shows_calls(board))) for row in board.scoreboard["rows"]],
        calls=shows_calls(board),
        talk_time=talk_time,
        goals=has_goals(board),
        money=money,
        amount=amount,
        charts=charts(board),
        picker=picker(shown, TODAY, TAIPEI),
        weekly=weekly_page(_meeting(numbers)),
        zone=TAIPEI,
    )


def _meeting(numbers: dict[str, Any]) -> WeeklyMeeting:
    weeks = [datetime(2026, 2, day, tzinfo=TAIPEI) for day in (2, 9, 16)]
    earlier = {**numbers, "closed_deals": numbers["closed_deals"] + 2}
    return WeeklyMeeting(
        weeks=[((weeks[0], weeks[1]), earlier), ((weeks[1], weeks[2]), numbers)],
        quarter=numbers,
        pipeline=[StageValue("opportunity", 2, {"TWD": Decimal("1500000.00")})],
        moves=[
            Move("won", "D-1", weeks[1], "Formosa <Foods>", "R-01", "林怡君", "125000", "TWD"),
        ],
        position=42,
    )


def test_the_page_renders_attainment_in_both_languages():
    numbers = {
        **NUMBERS,
        "targets": {"closed_deals": 4},
        "attainment": {"closed_deals": 0.75},
        "priorities": ["closed_deals"],
        "conversion": {"lead_to_opportunity": 0.45, "committed_to_closed": None},
    }
    english = _render("en", numbers)
    assert 'data-attainment="closed_deals"' in english
    assert "75% of target 4" in english
    assert "★" in english
    assert "Formosa &lt;Foods&gt;" in english  # names from events are escaped
    assert 'data-change="closed_deals">\u22122<' in english
    assert "TWD 1,500,000" in english
    chinese = _render("zh-TW", numbers)
    assert "目標達成" in chinese
    assert "45%" in chinese
    assert "本週異動" in chinese


def test_calls_show_only_for_a_team_whose_priorities_name_them():
    calls = {"calls": 40, "connected_calls": 12, "talk_time_s": 3725}
    # A team that watches visits: no calls on its dashboard
    quiet = _render("en", {**NUMBERS, **calls, "priorities": ["client_visits"]})
    assert 'id="card-calls"' not in quiet and 'data-metric="talk_time_s"' not in quiet
    # A phone-sales team: the calls card, its connected calls and talk time, and a table column
    phoning = _render("en", {**NUMBERS, **calls, "priorities": ["calls", "leads"]})
    assert 'id="card-calls"' in phoning
    assert '<span data-metric="calls">40</span>' in phoning
    assert 'connected <span data-metric="connected_calls">12</span>' in phoning
    assert 'data-seconds="3725">1:02:05</span>' in phoning
    assert '<th scope="col">Outbound calls</th>' in phoning
    assert "外撥電話" in _render("zh-TW", {**NUMBERS, **calls, "priorities": ["calls"]})


def test_talk_time_reads_as_hours_minutes_and_seconds():
    assert [talk_time(s) for s in (0, 59, 3600, 90061)] == [
        "0:00:00",
        "0:00:59",
        "1:00:00",
        "25:01:01",
    ]


def test_both_catalogs_translate_every_message_the_templates_use():
    english, chinese = i18n.translator("en"), i18n.translator("zh-TW")
    assert set(english) == set(chinese)
    assert all(chinese[key] != english[key] for key in ("closed_deals", "funnel", "sign_in"))
    folder = resources.files("service.web").joinpath("templates")
    used = set()
    for template in folder.iterdir():
        used |= set(re.findall(r"\bt\.([a-z_]+)", template.read_text("utf-8")))
    assert used <= set(english), used - set(english)
    catalog = resources.files("service.web").joinpath("messages/en.json").read_text("utf-8")
    assert json.loads(catalog) == english


@pytest.mark.parametrize(
    ("query", "cookie", "header", "language"),
    [
        ("zh-TW", None, None, "zh-TW"),
        ("fr", "zh-TW", None, "zh-TW"),
        (None, None, "zh-Hant-TW,zh;q=0.9", "zh-TW"),
        (None, None, "fr-FR, en;q=0.5", "en"),
        (None, None, "fr", "en"),
    ],
)
def test_language_choice(query, cookie, header, language):
    assert i18n.choose(query, cookie, header) == language


def key(**changes) -> ApiKey:
    base = {
        "key_id": "k1",
        "name": "ui",
        "scopes": frozenset({Scope.READ}),
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "expires_at": None,
        "revoked_at": None,
        "last_used_at": None,
    }
    return ApiKey(**{**base, **changes})


def test_session_cookies_are_signed_and_expire():
    signer = SessionSigner(b"s" * 32, timedelta(hours=8))
    cookie = signer.issue(key())
    session = signer.session(cookie)
    assert session is not None and session.key_id == "k1"
    assert session.session_id != (signer.session(signer.issue(key())) or session).session_id
    assert signer.session(cookie + "x") is None
    assert SessionSigner(b"t" * 32, timedelta(hours=8)).session(cookie) is None
    assert SessionSigner(b"s" * 32, timedelta(seconds=-1)).session(cookie) is None
    assert signer.session(None) is None


def test_a_session_never_outlives_its_key():
    signer = SessionSigner(b"s" * 32, timedelta(hours=8))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert signer.max_age(key(), now) == 8 * 3600
    assert signer.max_age(key(expires_at=now + timedelta(minutes=5)), now) == 300
    assert may_read(key(scopes=frozenset({Scope.ADMIN})), now)
    assert not may_read(key(scopes=frozenset({Scope.AUDIT})), now)
    assert not may_read(key(revoked_at=now), now)
    assert not may_read(None, now)


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/?period=2026-Q1", "/?period=2026-Q1"), ("//evil", "/"), ("http://x/", "/"), (None, "/")],
)
def test_redirects_stay_on_the_site(target, safe):
    assert _local(target) == safe
