"""Less on show: metrics and readiness detail behind a key, liveness public, API docs off."""

from __future__ import annotations

import httpx
import pytest

from service.api.app import create_app
from service.store.projection import checkpoints
from service.store.projection.read_model_writer import READ_MODELS
from tests.conftest import bearer, make_settings

pytestmark = pytest.mark.e2e

SECRET_ERROR = "relation rm_secret_table does not exist at /srv/funnel/projector.py:42"


async def test_liveness_is_public_and_tells_nothing_more(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_metrics_need_a_metrics_or_admin_key(client, tokens):
    anonymous = await client.get("/metrics")
    assert anonymous.status_code == 401
    assert "funnel_" not in anonymous.text
    assert (await client.get("/metrics", headers=bearer("fl_0000_nope"))).status_code == 401
    for scope in ("read", "events:write", "audit"):
        refused = await client.get("/metrics", headers=bearer(tokens[scope]))
        assert refused.status_code == 403, scope
        assert refused.json()["required_scope"] == "metrics"
    for scope in ("metrics", "admin"):
        allowed = await client.get("/metrics", headers=bearer(tokens[scope]))
        assert allowed.status_code == 200, scope
        assert "funnel_projector_checkpoint" in allowed.text


async def test_readiness_without_a_key_is_a_status_without_the_projector_error(app, client, tokens):
    # Given a projector whose last attempt failed with a revealing message
    await checkpoints.record_error(app.state.services.engine, READ_MODELS, SECRET_ERROR)
    # When an anonymous probe asks
    anonymous = await client.get("/readyz")
    # Then it reads only that the service is ready (and answers from memory)
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "ok", "warm": True}
    assert "rm_secret_table" not in anonymous.text
    # And an operator's key reads the detail
    detailed = await client.get("/readyz", headers=bearer(tokens["metrics"]))
    assert detailed.status_code == 200
    assert detailed.json()["projector"]["last_error"] == SECRET_ERROR
    assert detailed.json()["database"] == "up"


async def test_readiness_detail_refuses_a_bad_or_unfit_key(client, tokens):
    assert (await client.get("/readyz", headers=bearer("fl_0000_nope"))).status_code == 401
    refused = await client.get("/readyz", headers=bearer(tokens["read"]))
    assert refused.status_code == 403
    assert "projector" not in refused.text
    assert (await client.get("/readyz", headers=bearer(tokens["admin"]))).status_code == 200


async def test_api_docs_pages_are_off_by_default(client):
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert (await client.get(path)).status_code == 404, path
    # The schema stays served: it loads nothing from elsewhere
    assert (await client.get("/openapi.json")).status_code == 200


async def test_api_docs_pages_are_served_when_asked_for(database_url):
    application = create_app(make_settings(database_url, FUNNEL_API_DOCS="true"))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for path in ("/docs", "/redoc"):
                response = await http.get(path)
                assert response.status_code == 200, path
                assert "/openapi.json" in response.text
