"""openapi.yaml is exactly the schema the app serves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"


async def test_openapi_yaml_equals_the_served_schema(client):
    served = (await client.get("/openapi.json")).json()
    assert yaml.safe_load(SPEC.read_text()) == served, (
        "openapi.yaml is stale: regenerate it with `funnel-ledger openapi > openapi.yaml`"
    )


async def test_health_probes(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
