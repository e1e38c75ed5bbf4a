"""The `reporting` schema read by a BI login: the views answer the fold; nothing else is readable."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service.bi.roles import RoleNameError, create_bi_role
from service.events.envelope import parse_event
from service.events.recorded import RecordedEvent
from service.projections import compute_scoreboard, deal_state_at, is_deal, visible
from service.projections.accounts import account_key, key_history, key_mark_at
from service.projections.facts import flow_fact
from service.projections.profiles import profile_at, profile_history
from service.projections.targets import plan
from service.projections.teams import team_at, team_history
from service.projections.workdays import MONDAY_TO_FRIDAY, calendar_at
from service.store.database.engines import create_engine
from service.store.log.appender import EventAppender
from service.store.log.reader import EventReader
from service.store.projection.projector import catch_up
from service.store.projection.rebuild import rebuild
from tests import databases
from tests.factories import ce, qualified, retraction, signed, sourced, visit
from tests.histories import DEALS, Delivery, deliveries

pytestmark = pytest.mark.integration

PASSWORD = "bi-secret-Pw1"
VIEWS = (
    "events",
    "flow_facts",
    "scoreboard_daily",
    "deal_stage_history",
    "deal_state_current",
    "key_accounts",
    "calendar_days",
    "rep_profiles",
)
PROPERTY = settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _dsn(database_url: str, role: str) -> str:
    url = make_url(database_url).set(drivername="postgresql", username=role, password=PASSWORD)
    return url.render_as_string(hide_password=False)


async def _drop_role(engine: AsyncEngine, role: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP OWNED BY "{role}"'))
        await conn.execute(text(f'DROP ROLE "{role}"'))


async def _as_bi_role(engine: AsyncEngine, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    role = f"bi_test_{uuid.uuid4().hex[:10]}"
    await create_bi_role(engine, role, PASSWORD, "Asia/Taipei")
    conn = await asyncpg.connect(_dsn(database_url, role))
    try:
        yield conn
    finally:
        await conn.close()
        await _drop_role(engine, role)


@pytest.fixture
async def bi(engine: AsyncEngine, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as a freshly created BI role."""
    async for conn in _as_bi_role(engine, database_url):
        yield conn


async def _store(engine: AsyncEngine, raw: list[dict[str, Any]]) -> list[RecordedEvent]:
    await EventAppender(engine).append([parse_event(event) for event in raw])
    await catch_up(engine, 100)
    return [event async for event in EventReader(engine).iterate()]


def _history() -> list[dict[str, Any]]:
    wrong = visit("D-1", "R-1", "2026-01-07T10:00:00Z")
    return [
        ce("rep.team_assigned", "rep:R-1", "2025-12-01T00:00:00Z", {"team_id": "North"}),
        sourced("D-1", "R-1", "2026-01-05T10:00:00Z"),
        visit("D-1", "R-1", "2026-01-06T10:00:00Z"),
        wrong,
        retraction("D-1", "R-1", "2026-01-08T10:00:00Z", wrong),
        qualified("D-1", "R-1", "2026-02-01T10:00:00Z", amount="900.00"),
        signed("D-1", "R-1", "2026-03-20T10:00:00Z", amount="950.50"),
        sourced("D-2", "R-2", "2026-02-05T20:00:00Z"),
        ce("deal.reassigned", "D-2", "2026-02-06T10:00:00Z", {"rep_id": "R-2", "to_rep_id": "R-1"}),
    ]


async def test_the_views_answer_as_the_fold(engine: AsyncEngine, bi: asyncpg.Connection) -> None:
    # Given a won deal (one visit retracted) and a reassigned lead, all projected
    log = await _store(engine, _history())

    # When the BI role reads the views
    deals = {
        row["deal_id"]: row for row in await bi.fetch("SELECT * FROM reporting.deal_state_current")
    }
    daily = await bi.fetch("SELECT * FROM reporting.scoreboard_daily ORDER BY day, rep_id")
    events = await bi.fetch("SELECT * FROM reporting.events ORDER BY position")

    # Then deals are as folded; days are Taipei days (D-2 was sourced on Feb 6 there)
    d1 = deals["D-1"]
    assert (d1["stage"], d1["owner_rep_id"], d1["owner_team_id"]) == ("won", "R-1", "North")
    assert (d1["amount"], d1["currency"], d1["fsi_visits"], d1["version"]) == (
        Decimal("950.50"),
        "TWD",
        1,
        6,
    )
    assert d1["stage_since"] == datetime(2026, 3, 20, 10, tzinfo=UTC)
    assert d1["account_name"] == "Account of D-1" and d1["channel"] == "web"
    assert deals["D-2"]["owner_rep_id"] == "R-1" and deals["D-2"]["stage"] == "lead"
    assert [(str(r["day"]), r["rep_id"], r["leads"], r["client_visits"]) for r in daily][:2] == [
        ("2026-01-05", "R-1", 1, 0),
        ("2026-01-06", "R-1", 0, 1),
    ]
    assert ("2026-02-06", "R-2", 1) in {(str(r["day"]), r["rep_id"], r["leads"]) for r in daily}
    assert len(events) == len(log) and sum(row["retracted"] for row in events) == 1


async def test_the_calendar_view_answers_as_the_fold(
    engine: AsyncEngine, bi: asyncpg.Connection
) -> None:
    # Given a holiday, a make-up Saturday, a date declared twice and a retracted declaration
    def day_set(day: str, working: bool, time: str, **kw: Any) -> dict[str, Any]:
        data = {"date": day, "working": working, "name": f"on {day}"}
        return ce("calendar.day_set", "calendar:company", time, data, **kw)

    wrong = day_set("2026-03-02", False, "2026-01-02T00:00:00Z", id="c-wrong")
    log = await _store(
        engine,
        [
            day_set("2026-02-27", False, "2026-01-01T00:00:00Z", id="c-1"),
            day_set("2026-02-14", True, "2026-01-01T00:00:00Z", id="c-2"),
            day_set("2026-04-03", False, "2026-01-01T00:00:00Z", id="c-3"),
            day_set("2026-04-03", True, "2026-02-01T00:00:00Z", id="c-4"),
            wrong,
            retraction("calendar:company", "R-1", "2026-01-03T00:00:00Z", wrong, id="c-5"),
        ],
    )
    # When the BI role reads the calendar
    rows = await bi.fetch("SELECT * FROM reporting.calendar_days ORDER BY day")
    # Then each date has its latest declaration, as the fold has it; the retracted one is gone
    known = plan(visible(log, as_of=None, known_at=None))
    calendar = calendar_at(known, datetime.now(UTC), MONDAY_TO_FRIDAY)
    assert [(str(row["day"]), row["working"]) for row in rows] == [
        ("2026-02-14", True),
        ("2026-02-27", False),
        ("2026-04-03", True),
    ]
    assert all(calendar.is_working(row["day"]) == row["working"] for row in rows)
    assert not calendar.is_working(datetime(2026, 3, 1).date())  # a Sunday, never declared
    assert [row["iso_weekday"] for row in rows] == [6, 5, 5]
    assert rows[2]["declared_at"] == datetime(2026, 2, 1, tzinfo=UTC)


async def test_the_bi_role_cannot_touch_anything_else(
    engine: AsyncEngine, bi: asyncpg.Connection
) -> None:
    await _store(engine, _history())
    for view in VIEWS:
        await bi.fetch(f"SELECT * FROM reporting.{view} LIMIT 1")
    forbidden = (
        "SELECT * FROM public.events",
        "SELECT * FROM public.rm_flow_facts",
        "SELECT * FROM public.rm_deal_segments",
        "SELECT * FROM public.api_keys",
        "INSERT INTO public.events (position) VALUES (999)",
        "UPDATE public.api_keys SET name = 'x'",
        "DELETE FROM public.rm_flow_facts",
        "INSERT INTO reporting.events (position) VALUES (999)",
        "CREATE TABLE reporting.mine (x int)",
    )
    for statement in forbidden:
        with pytest.raises(asyncpg.PostgresError):
            await bi.execute(statement)


async def test_the_views_survive_a_rebuild(engine: AsyncEngine, bi: asyncpg.Connection) -> None:
    # Given projected events, when the read models are rebuilt (tables renamed and dropped)
    await _store(engine, _history())
    await rebuild(engine)
    # Then the views read the new tables
    rows = await bi.fetch(
        "SELECT deal_id, stage FROM reporting.deal_state_current ORDER BY deal_id"
    )
    assert [tuple(row) for row in rows] == [("D-1", "won"), ("D-2", "lead")]


async def test_the_cli_creates_a_login_that_reads_the_views(
    engine: AsyncEngine, database_url: str
) -> None:
    # Given `funnel-ledger bi-role create` run as an operator would
    role = f"bi_cli_{uuid.uuid4().hex[:10]}"
    command = [sys.executable, "-m", "service", "bi-role", "create", "--name", role]
    process = await asyncio.create_subprocess_exec(
        *command,
        "--password",
        PASSWORD,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    try:
        assert process.returncode == 0, err.decode()
        # When the new login connects, then it reads the views and only those
        conn = await asyncpg.connect(_dsn(database_url, role))
        try:
            assert await conn.fetchval("SELECT count(*) FROM reporting.deal_state_current") == 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT * FROM public.events")
        finally:
            await conn.close()
    finally:
        await _drop_role(engine, role)


async def test_a_bad_role_name_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(RoleNameError):
        await create_bi_role(engine, 'x"; DROP TABLE events; --', PASSWORD, "UTC")


EVER = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
"""A period holding every instant of the generated histories."""


def _expected_deal(state: Any, teams: Any, now: datetime) -> dict[str, Any]:
    return {
        "stage": state.stage,
        "owner_rep_id": state.owner_rep_id,
        "owner_team_id": team_at(teams, state.owner_rep_id, now),
        "account_name": (state.account or {}).get("name"),
        "account_id": (state.account or {}).get("id"),
        "account_key": account_key(state.account),
        "channel": state.channel,
        "amount": None if state.amount is None else Decimal(state.amount),
        "currency": state.currency,
        "fsi_visits": state.fsi_visits,
        "fua_visits": state.fua_visits,
        "calls": state.calls,
        "first_event_at": state.first_event_at,
        "last_event_at": state.last_event_at,
        "version": state.version,
    }


@PROPERTY
@given(delivery=deliveries(max_events=20))
async def test_deal_state_and_facts_views_equal_the_fold_on_generated_histories(
    test_server: databases.TestServer, delivery: Delivery
) -> None:
    url = await test_server.create_database()
    engine = create_engine(url, pool_size=2)
    try:
        for batch in delivery:
            await EventAppender(engine).append([parse_event(raw) for raw in batch])
        await catch_up(engine, 7)
        log = [event async for event in EventReader(engine).iterate()]
        async for bi in _as_bi_role(engine, url):
            now = datetime.now(UTC)
            known = visible(log, as_of=None, known_at=None)
            teams = team_history(known)
            rows = {
                r["deal_id"]: dict(r)
                for r in await bi.fetch("SELECT * FROM reporting.deal_state_current")
            }
            states = {d: deal_state_at(d, log, as_of=None, known_at=None) for d in DEALS}
            expected = {
                d: _expected_deal(s, teams, now) for d, s in states.items() if s is not None
            }
            assert {d: {k: row[k] for k in expected[d]} for d, row in rows.items()} == expected
            marks = key_history(known)
            expected_marks = {
                key: (mark.key, mark.note)
                for key in marks
                if (mark := key_mark_at(marks, key, now)) is not None
            }
            shown = await bi.fetch(
                "SELECT account_key, key_account, note FROM reporting.key_accounts"
            )
            assert {
                r["account_key"]: (r["key_account"], r["note"]) for r in shown
            } == expected_marks
            facts = await bi.fetch(
                "SELECT position, kind, rep_id, team_id, visit_kind, subcount, measure "
                "FROM reporting.flow_facts"
            )
            folded = [flow_fact(e) for e in known if is_deal(e.subject)]
            assert sorted(tuple(f) for f in facts) == sorted(
                (
                    f.position,
                    f.kind,
                    f.rep_id,
                    team_at(teams, f.rep_id, f.occurred_at),
                    f.visit_kind,
                    f.subcount,
                    f.measure,
                )
                for f in folded
                if f is not None
            )
            # Calls count per event: the days of a rep add up to the fold's numbers
            daily = await bi.fetch(
                "SELECT rep_id, sum(calls) AS calls, sum(connected_calls) AS connected_calls, "
                "sum(talk_time_s) AS talk_time_s FROM reporting.scoreboard_daily "
                "GROUP BY rep_id HAVING sum(calls) > 0"
            )
            board = compute_scoreboard(
                log, start=EVER[0], end=EVER[1], known_at=None, group_by="rep"
            )
            assert {
                r["rep_id"]: (r["calls"], r["connected_calls"], r["talk_time_s"]) for r in daily
            } == {
                row.key: (row.numbers.calls, row.numbers.connected_calls, row.numbers.talk_time_s)
                for row in board.rows
                if row.numbers.calls
            }
    finally:
        await engine.dispose()
        await test_server.drop_database(url)


PROFILE_TIMES = (
    "2025-12-01T00:00:00Z",
    "2026-01-05T09:00:00Z",
    "2026-01-05T09:00:00+08:00",
    "2026-01-05T01:00:00Z",
)
"""Profile instants: two pairs of them the same instant written in two offsets (ties)."""


@st.composite
def _profiles(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Profiles of three reps at shared instants (ties), some retracted afterwards."""
    events: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 8))):
        rep = draw(st.sampled_from(("R-1", "R-2", "R-3")))
        data: dict[str, Any] = {"name": draw(st.sampled_from(("Amy", "林怡君", "Bo")))}
        if draw(st.booleans()):
            data["active"] = draw(st.booleans())
        if draw(st.booleans()):
            data["email"] = "amy@example.com"
        time = draw(st.sampled_from(PROFILE_TIMES))
        events.append(ce("rep.profile_set", f"rep:{rep}", time, data, id=f"p-{index}"))
    for index, target in enumerate(list(events)):
        if draw(st.integers(0, 3)) == 0:
            rep = target["subject"].removeprefix("rep:")
            events.append(
                retraction(target["subject"], rep, "2026-02-01T00:00:00Z", target, id=f"x-{index}")
            )
    return events


@PROPERTY
@given(raw=_profiles())
async def test_rep_profiles_view_equals_the_fold(
    test_server: databases.TestServer, raw: list[dict[str, Any]]
) -> None:
    url = await test_server.create_database()
    engine = create_engine(url, pool_size=2)
    try:
        log = await _store(engine, raw)
        async for bi in _as_bi_role(engine, url):
            now = datetime.now(UTC)
            history = profile_history(visible(log, as_of=None, known_at=None))
            expected = {
                rep: (profile.name, profile.active)
                for rep in history
                if (profile := profile_at(history, rep, now)) is not None
            }
            shown = await bi.fetch("SELECT rep_id, rep_name, active FROM reporting.rep_profiles")
            assert {r["rep_id"]: (r["rep_name"], r["active"]) for r in shown} == expected
            columns = await bi.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'reporting' AND table_name = 'rep_profiles'"
            )
            assert "email" not in {c["column_name"] for c in columns}
    finally:
        await engine.dispose()
