"""Admin endpoints: projection status and a rebuild that swaps in equal read models."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.conftest import bearer
from tests.factories import ce, qualified, retraction, signed, sourced, visit

pytestmark = pytest.mark.e2e


def history() -> list[dict[str, object]]:
    first_visit = visit("D-1", "R-1", "2026-01-06T10:00:00Z")
    return [
        ce("rep.team_assigned", "rep:R-1", "2025-12-01T00:00:00Z", {"team_id": "north"}),
        sourced("D-1", "R-1", "2026-01-05T10:00:00Z"),
        first_visit,
        qualified("D-1", "R-1", "2026-02-01T10:00:00Z"),
        sourced("D-2", "R-2", "2026-02-05T10:00:00Z"),
        signed("D-1", "R-1", "2026-03-20T10:00:00Z", amount="500.00"),
        retraction("D-1", "R-1", "2026-03-21T10:00:00Z", first_visit),
    ]


async def test_status_then_rebuild_gives_the_same_answers(client, tokens):
    admin = bearer(tokens["admin"])
    for event in history():
        response = await client.post(
            "/v1/events",
            content=orjson.dumps(event),
            headers={**admin, "Content-Type": "application/cloudevents+json"},
        )
        assert response.status_code == 201
    before = (await client.get("/v1/scoreboard?period=2026-Q1&group_by=team", headers=admin)).json()
    funnel_before = (await client.get("/v1/funnel?as_of=2026-02-10", headers=admin)).json()

    started = await client.post("/v1/admin/rebuild", headers=admin)
    assert started.status_code == 202
    for _ in range(200):
        status = (await client.get("/v1/admin/projection", headers=admin)).json()
        if status["rebuild"]["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert status["rebuild"]["status"] == "done", status
    assert status["checkpoint"] == status["head"] == 7
    assert status["lag"] == 0

    after = (await client.get("/v1/scoreboard?period=2026-Q1&group_by=team", headers=admin)).json()
    funnel_after = (await client.get("/v1/funnel?as_of=2026-02-10", headers=admin)).json()
    for answer in (before, after, funnel_before, funnel_after):
        answer.pop("known_at")
    assert after == before
    assert (
        funnel_after["stages"]
        == funnel_before["stages"]
        == {
            "lead": 1,
            "opportunity": 1,
            "eb_committed": 0,
            "committed": 0,
            "won": 0,
            "lost": 0,
            "disqualified": 0,
        }
    )
    assert before["totals"]["client_visits"] == 0
    assert [row["key"] for row in before["rows"]] == ["north", None]


async def test_admin_routes_need_the_admin_scope(client, tokens):
    assert (
        await client.get("/v1/admin/projection", headers=bearer(tokens["read"]))
    ).status_code == 403
    assert (
        await client.post("/v1/admin/rebuild", headers=bearer(tokens["audit"]))
    ).status_code == 403
