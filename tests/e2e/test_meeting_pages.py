"""The meeting pages over HTTP: a rep's one-on-one and the weekly meeting on the team page,
their numbers equal to the API's for the same period, rep and instant."""

from __future__ import annotations

import pytest

from service.application.demo_load import load
from service.demo import generate
from tests.e2e.test_dashboard import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
async def demo(app):
    await load(app.state.services.appender, generate(seed=4, quarter="2026-Q1", deals=120))


@pytest.fixture
async def signed_in(client, tokens):
    response = await sign_in(client, tokens["read"])
    assert response.status_code == 303
    return client


async def test_smoke(signed_in, demo):
    page = await signed_in.get("/?period=2026-Q1&as_of=2026-02-15")
    assert page.status_code == 200, page.text
    open("/tmp/meet/team.html", "w").write(page.text)
    page = await signed_in.get("/reps/R-01?period=2026-Q1&as_of=2026-02-15")
    assert page.status_code == 200, page.text
    open("/tmp/meet/rep.html", "w").write(page.text)
