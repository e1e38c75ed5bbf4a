"""Webhook test helpers: a mapping configuration, its secrets, and vendors' signing schemes."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from service.webhooks.signatures import hubspot_v3_signature, standard_signature

PUBLIC_BASE = "https://ledger.example.com"
HUBSPOT_SECRET = "hs-client-secret-3f9a"
PIPEDRIVE_USER, PIPEDRIVE_PASSWORD = "pipedrive-hook", "pd-pass-7c1e"
AIRCALL_TOKEN = "45XXYYZZa08-aircall-token"
ERP_SECRET_NEW = "whsec_" + base64.b64encode(b"erp-secret-new-0123456789abcdef").decode()
ERP_SECRET_OLD = "whsec_" + base64.b64encode(b"erp-secret-old-0123456789abcdef").decode()
SALESFORCE_SECRET = "sf-outbound-2b7c9e41d0a84f6bb3c5e7f9a1d2c4e6"
SALESFORCE_ORG = "00D5e000000KQ2eEAG"
SECRETS = {
    "TEST_HUBSPOT_SECRET": HUBSPOT_SECRET,
    "TEST_PIPEDRIVE_USER": PIPEDRIVE_USER,
    "TEST_PIPEDRIVE_PASSWORD": PIPEDRIVE_PASSWORD,
    "TEST_AIRCALL_TOKEN": AIRCALL_TOKEN,
    "TEST_ERP_SECRET_NEW": ERP_SECRET_NEW,
    "TEST_ERP_SECRET_OLD": ERP_SECRET_OLD,
    "TEST_SALESFORCE_SECRET": SALESFORCE_SECRET,
}

CONFIG = """
public_base_url: https://ledger.example.com
tolerance_seconds: 300
hubspot:
  client_secret_env: TEST_HUBSPOT_SECRET
  subject: "HS-{id}"
  currency: TWD
  users: {7001: R-07, 7002: R-08}
  stages:
    qualifiedtobuy: deal.qualified
    contractsent: deal.committee_approved
    closedwon: deal.contract_signed
    closedlost: {type: deal.lost, data: {reason: closed lost in HubSpot}}
pipedrive:
  username_env: TEST_PIPEDRIVE_USER
  password_env: TEST_PIPEDRIVE_PASSWORD
  subject: "PD-{id}"
  users: {12345: R-07, 12346: R-08}
  deal_created: {type: lead.sourced, data: {channel: referral}}
  stages: {2: deal.qualified, 4: deal.committee_approved}
  statuses:
    won: deal.contract_signed
    lost: {type: deal.lost, data: {reason: lost in Pipedrive}}
  activities:
    meeting: {type: visit.completed, data: {kind: FUA}}
    call: {type: call.logged, data: {direction: outbound}}
aircall:
  token_env: TEST_AIRCALL_TOKEN
  users: {456: R-07}
  numbers: {"+33 1 76 36 06 95": D-1042}
standard:
  erp:
    secrets_env: [TEST_ERP_SECRET_NEW, TEST_ERP_SECRET_OLD]
    sources: [erp]
salesforce:
  organization_id: 00D5e000000KQ2eEAG
  secret_env: TEST_SALESFORCE_SECRET
  subject: "SF-{id}"
  currency: USD
  users: {0055e000001AbCdAAA: R-07, 0055e000001AbCeAAA: R-08}
  deal_created: lead.sourced
  channels: {Web: web, Partner Referral: referral}
  stages:
    Prospecting: null
    Qualification: deal.qualified
    Needs Analysis: deal.qualified
    Id. Decision Makers: {type: deal.eb_committed, data: {eb: {name: Decision maker}}}
    Negotiation/Review: deal.committee_approved
    Closed Won: deal.contract_signed
    Closed Lost: {type: deal.lost, data: {reason: closed lost in Salesforce}}
    Disqualified: deal.disqualified
  activities:
    Call: {type: call.logged, data: {direction: outbound}}
    Meeting: {type: visit.completed, data: {kind: FUA}}
    Email: null
  first_visit_is_fsi: true
"""


def write_config(directory: Path) -> Path:
    """The test mapping configuration, as a YAML file in `directory`."""
    path = directory / "webhooks.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def hubspot_headers(
    body: bytes, *, path: str = "/webhooks/hubspot", sent_ms: int | None = None, secret: str = ""
) -> dict[str, str]:
    """Headers of a HubSpot delivery signed with signature v3."""
    stamp = str(sent_ms if sent_ms is not None else int(time.time() * 1000))
    uri = PUBLIC_BASE + path
    signature = hubspot_v3_signature(secret or HUBSPOT_SECRET, "POST", uri, body, stamp)
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": stamp,
    }


def standard_headers(
    msg_id: str, body: bytes, *, secret: str = ERP_SECRET_NEW, sent: int | None = None
) -> dict[str, str]:
    """Headers of a Standard Webhooks delivery."""
    stamp = str(sent if sent is not None else int(time.time()))
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": standard_signature(secret, msg_id, stamp, body),
    }


def basic(user: str, password: str) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}", "Content-Type": "application/json"}


def dumps(payload: Any) -> bytes:
    """JSON bytes of a payload."""
    return orjson.dumps(payload)


async def events_of(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    """The whole global feed."""
    response = await client.get(
        "/v1/events?limit=1000", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def inbox_of(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    """Every item of the webhook inbox."""
    response = await client.get(
        "/v1/admin/webhooks/inbox", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items
