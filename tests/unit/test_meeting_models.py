"""The meeting pages' pure parts: trend bars, weekly windows, changes, flags and their order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from service.application.deal_folds import FoldedDeal
from service.application.one_on_one import DealInStage, OneOnOne, _order
from service.application.weekly_meeting import _lost_in, _pipeline
from service.keys.api_keys import ApiKey, Scope
from service.projections.deal import DealState
from service.web import i18n
from service.web.charts import TREND_HEIGHT, TREND_WIDTH, trend_bars
from service.web.meeting import (
    TREND_WEEKS,
    amount,
    one_on_one_window,
    other_numbers,
    rep_page,
    trend_lines,
    weekly_window,
)
from service.web.page import money
from service.web.routes import _templates
from service.web.view import parse_view

TAIPEI = ZoneInfo("Asia/Taipei")
DAY = timedelta(days=1)


def _view(**params: str):
    view, errors = parse_view(params, TAIPEI, date(2026, 2, 10), date(2026, 11, 26))
    assert errors == []
    return view


def test_trend_bars_are_scaled_to_the_busiest_week_and_mark_the_current_one():
    bars = trend_bars([2, 0, 4])
    assert [bar.height for bar in bars] == [TREND_HEIGHT / 2, 0, TREND_HEIGHT]
    assert [bar.y + bar.height for bar in bars] == [TREND_HEIGHT] * 3
    assert [bar.current for bar in bars] == [False, False, True]
    assert bars[-1].x + bars[-1].width <= TREND_WIDTH
    assert trend_bars([]) == []
    assert [bar.height for bar in trend_bars([0, 0])] == [0, 0]


def test_the_weekly_window_is_eight_weeks_from_monday_the_last_to_date():
    view = _view(period="2026-Q1", as_of="2026-02-11")  # a Wednesday
    window = weekly_window(view, TAIPEI, datetime(2026, 3, 1, tzinfo=UTC))
    assert len(window.weeks) == TREND_WEEKS
    first, last = window.weeks[0], window.weeks[-1]
    assert first[0] == datetime(2025, 12, 22, tzinfo=TAIPEI)  # a Monday, seven weeks earlier
    assert last == (datetime(2026, 2, 9, tzinfo=TAIPEI), datetime(2026, 2, 12, tzinfo=TAIPEI))
    assert all(a[1] == b[0] for a, b in zip(window.weeks, window.weeks[1:], strict=False))
    assert window.usual_start == datetime(2026, 2, 11, tzinfo=TAIPEI) - 89 * DAY
    assert window.as_of == datetime(2026, 2, 12, tzinfo=TAIPEI) - timedelta(microseconds=1)


def test_the_one_on_one_trend_is_the_quarters_weeks_to_date():
    view = _view(period="2026-02", as_of="2026-02-11")
    window = one_on_one_window(view, TAIPEI, datetime(2026, 3, 1, tzinfo=UTC))
    assert window.weeks[0] == (
        datetime(2026, 1, 1, tzinfo=TAIPEI),
        datetime(2026, 1, 5, tzinfo=TAIPEI),
    )
    assert window.weeks[-1][1] == datetime(2026, 2, 12, tzinfo=TAIPEI)
    assert window.start == datetime(2026, 2, 1, tzinfo=TAIPEI)


def test_this_week_against_last_week():
    weeks = [{"leads": 3, "closed_deals": 0}, {"leads": 1, "closed_deals": 2}]
    lines = trend_lines(weeks, ("leads", "closed_deals"))
    assert [(line.this_week, line.last_week, line.change) for line in lines] == [
        (1, 3, -2),
        (2, 0, 2),
    ]
    assert trend_lines(weeks[:1], ("leads",))[0].change is None


def test_other_numbers_are_whatever_whole_numbers_a_row_carries_beyond_the_five():
    row = {
        "key": "R-01",
        "rep_name": "Amy",
        "closed_deals": 1,
        "fsi_visits": 1,
        "calls": 12,
        "talk_time_s": 3600,
        "fsi_share": 0.5,
        "open": {"leads": 1},
        "flag": True,
    }
    assert other_numbers(row) == [("calls", 12), ("talk_time_s", 3600)]


def _deal(deal_id: str, stage: str, entered: datetime) -> FoldedDeal:
    state = DealState(
        deal_id, stage, "R-01", None, None, None, None, None, entered, entered, entered, 0, 0, 0, 1
    )
    return FoldedDeal(state, None)


def test_eb_commitments_older_than_usual_are_at_risk_and_listed_first():
    now = datetime(2026, 3, 1, tzinfo=UTC)
    usual = 10 * 86400.0
    items = [
        DealInStage(_deal("D-1", "lead", now - 30 * DAY), 30 * 86400.0, usual),
        DealInStage(_deal("D-2", "eb_committed", now - 5 * DAY), 5 * 86400.0, usual),
        DealInStage(_deal("D-3", "eb_committed", now - 12 * DAY), 12 * 86400.0, usual),
        DealInStage(_deal("D-4", "committed", now - 1 * DAY), 1 * 86400.0, None),
    ]
    assert [(i.overdue, i.at_risk) for i in items] == [
        (True, False),
        (False, False),
        (True, True),
        (False, False),
    ]
    assert [i.deal.state.deal_id for i in sorted(items, key=_order)] == [
        "D-3",
        "D-4",
        "D-2",
        "D-1",
    ]


def test_the_pipeline_sums_amounts_per_stage_and_currency():
    stages = _pipeline(
        [
            ("opportunity", "100.50", "TWD"),
            ("opportunity", "200", "TWD"),
            ("opportunity", "5", "USD"),
            ("lead", None, None),
        ]
    )
    by_stage = {stage.stage: (stage.deals, stage.value) for stage in stages}
    assert by_stage["opportunity"] == (3, {"TWD": Decimal("300.50"), "USD": Decimal(5)})
    assert by_stage["lead"] == (1, {})
    assert by_stage["committed"] == (0, {})


def test_lost_this_week_is_entering_lost_in_it():
    start = datetime(2026, 2, 9, tzinfo=UTC)
    end = start + 7 * DAY
    paths = {
        "D-1": ((start - DAY, "opportunity"), (start + DAY, "lost")),
        "D-2": ((start - 3 * DAY, "lost"),),
        "D-3": ((start, "lost"), (start + DAY, "opportunity"), (start + 2 * DAY, "lost")),
        "D-4": ((end, "lost"),),
    }
    assert _lost_in(paths, start, end) == {"D-1": start + DAY, "D-3": start}


def test_the_one_on_one_renders_further_numbers_and_flags_in_both_languages():
    now = datetime(2026, 2, 16, tzinfo=TAIPEI)
    row = {
        "key": "R-01",
        "rep_name": "林怡君 <b>",
        **dict.fromkeys(("closed_deals", "committed_deals", "opportunities", "leads"), 1),
        "client_visits": 3,
        "fsi_visits": 1,
        "fua_visits": 2,
        "calls": 12,
        "closed_value": {},
        "open": {"leads": 0, "opportunities": 1, "committed_deals": 0},
    }
    deal = DealInStage(_deal("D-9", "eb_committed", now - 20 * DAY), 20 * 86400.0, 86400.0)
    meeting = OneOnOne("R-01", "林怡君 <b>", row, [((now - 7 * DAY, now), row)], [deal], {}, 7)
    for language, label, flag in (
        ("en", "Outbound calls", "At risk"),
        ("zh-TW", "外撥電話", "有風險"),
    ):
        html = _templates.get_template("rep.html").render(
            t=i18n.translator(language),
            lang=language,
            lang_urls={"en": "/?lang=en", "zh-TW": "/?lang=zh-TW"},
            key=ApiKey("k1", "ui", frozenset({Scope.READ}), now, None, None, None),
            view=_view(period="2026-Q1", as_of="2026-02-15"),
            invalid=[],
            page=rep_page(meeting),
            known_at=now,
            money=money,
            amount=amount,
            zone=TAIPEI,
            back="/?period=2026-Q1",
            usual_days=90,
        )
        assert f'<dt>{label}</dt><dd><span data-metric="calls">12</span>' in html
        assert f'<span class="flag risk">{flag}</span>' in html
        assert "林怡君 &lt;b&gt;" in html
