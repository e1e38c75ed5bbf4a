"""Salesforce Outbound Messages: the secret URL, the organization, safe XML, retries, mapping."""

from __future__ import annotations

import logging
import time
from typing import Any
from xml.sax.saxutils import escape

import pytest
from defusedxml.ElementTree import fromstring
from pydantic import ValidationError

from service.importers.mapping import load_import_mapping
from service.webhooks.config import Rule, WebhookConfig
from service.webhooks.outbound_messages import OUTBOUND, SOAP_ENVELOPE
from tests.conftest import bearer
from tests.factories import qualified, sourced
from tests.webhooks import SALESFORCE_ORG, SALESFORCE_SECRET, events_of, inbox_of, write_config

pytestmark = pytest.mark.e2e

URL = f"/webhooks/salesforce?token={SALESFORCE_SECRET}"
ALICE, BOB, STRANGER = "0055e000001AbCdAAA", "0055e000001AbCeAAA", "0055e000009ZzZzAAA"
DEAL = "0065e00000Gx7QzAAJ"
XML = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def notification(notification_id: str, sobject: str, **fields: str | None) -> str:
    """One `Notification` as Salesforce writes it: its id, then the sObject's chosen fields."""
    cells = "".join(
        f'<sf:{name} xsi:nil="true"/>'
        if value is None
        else f"<sf:{name}>{escape(value)}</sf:{name}>"
        for name, value in fields.items()
    )
    return (
        f"<Notification><Id>{notification_id}</Id>"
        f'<sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"{cells}</sObject></Notification>"
    )


def message(*notifications: str, org: str = SALESFORCE_ORG) -> bytes:
    """A `notifications` call shaped like Salesforce's documented sample."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" \
xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5e000000KQ2e</PartnerUrl>
   {"".join(notifications)}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>
""".encode()


def opportunity(notification_id: str, at: str, **fields: str | None) -> str:
    """An Opportunity notification with the fields the documentation asks for."""
    base: dict[str, str | None] = {
        "Id": DEAL,
        "AccountId": "0015e00000ZkM3hAAF",
        "Amount": "50000.0",
        "LastModifiedDate": at,
        "LeadSource": "Web",
        "Name": "Acme - 500 Widgets",
        "OwnerId": ALICE,
        "StageName": "Prospecting",
    }
    return notification(notification_id, "Opportunity", **(base | fields))


def acknowledged(response: Any) -> bool:
    """Whether the answer is the SOAP acknowledgement Salesforce waits for."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    ack = fromstring(response.content).find(
        f"{{{SOAP_ENVELOPE}}}Body/{{{OUTBOUND}}}notificationsResponse/{{{OUTBOUND}}}Ack"
    )
    return ack is not None and ack.text == "true"


async def deliver(client, body: bytes, url: str = URL):
    return await client.post(url, content=body, headers=XML)


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in events}


async def test_a_new_opportunity_is_acknowledged_and_becomes_its_events(client, tokens):
    body = message(
        opportunity("04l5e00000Gx7Q1AAJ", "2026-01-05T02:00:00.000Z", StageName="Qualification")
    )
    response = await deliver(client, body)
    assert acknowledged(response)
    events = by_id(await events_of(client, tokens["read"]))
    created = events["Notification/04l5e00000Gx7Q1AAJ/created"]
    assert (created["source"], created["type"], created["subject"]) == (
        "salesforce",
        "lead.sourced",
        f"SF-{DEAL}",
    )
    assert created["time"] == "2026-01-05T02:00:00+00:00"
    assert created["data"] == {
        "rep_id": "R-07",
        "account": {"name": "Salesforce account 0015e00000ZkM3hAAF", "id": "0015e00000ZkM3hAAF"},
        "channel": "web",
    }
    stage = events["Notification/04l5e00000Gx7Q1AAJ/stage"]
    assert stage["type"] == "deal.qualified"
    assert stage["data"] == {"rep_id": "R-07", "amount": "50000.0", "currency": "USD"}
    assert len(events) == 2
    assert await inbox_of(client, tokens["admin"]) == []


async def test_a_retried_message_is_stored_once_and_acknowledged_again(client, tokens):
    body = message(
        opportunity("04l5e00000Gx7Q2AAJ", "2026-01-05T02:00:00.000Z", StageName="Closed Won"),
        notification(
            "04l5e00000Gx7Q3AAJ",
            "Task",
            Id="00T5e00000AbCdEAAZ",
            WhatId=DEAL,
            OwnerId=ALICE,
            TaskSubtype="Call",
            CallType="Outbound",
            CallDurationInSeconds="300",
            Status="Completed",
            ActivityDate="2026-01-04",
            CreatedDate="2026-01-04T09:00:00.000Z",
        ),
    )
    first = await deliver(client, body)
    stored = await events_of(client, tokens["read"])
    again = await deliver(client, body)
    assert acknowledged(first) and acknowledged(again)
    assert await events_of(client, tokens["read"]) == stored
    assert [e["type"] for e in stored] == ["call.logged", "lead.sourced", "deal.contract_signed"]
    assert await inbox_of(client, tokens["admin"]) == []


@pytest.mark.parametrize(
    "url",
    [
        "/webhooks/salesforce",
        "/webhooks/salesforce?token=",
        "/webhooks/salesforce?token=sf-outbound-2b7c9e41d0a84f6bb3c5e7f9a1d2c4e7",
        f"/webhooks/salesforce?token={SALESFORCE_SECRET}&token={SALESFORCE_SECRET}",
        f"/webhooks/salesforce?secret={SALESFORCE_SECRET}",
    ],
    ids=["none", "empty", "wrong", "twice", "other-name"],
)
async def test_a_wrong_secret_is_refused_and_stores_nothing(client, tokens, url):
    response = await deliver(
        client, message(opportunity("04l5e00000Gx7Q4AAJ", "2026-01-05T02:00:00Z")), url
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/webhook-unauthenticated")
    assert await events_of(client, tokens["read"]) == []
    assert await inbox_of(client, tokens["admin"]) == []


@pytest.mark.parametrize("org", ["00D5e000000KQ2fEAG", "00D5e000000KQ2e", "00d5e000000kq2eEAG"])
async def test_another_organization_is_refused_and_stores_nothing(client, tokens, org):
    body = message(opportunity("04l5e00000Gx7Q5AAJ", "2026-01-05T02:00:00Z"), org=org)
    response = await deliver(client, body)
    if org == SALESFORCE_ORG[:15]:
        # The 15-character form of the same organization's id is the same organization.
        assert acknowledged(response)
        return
    assert response.status_code == 401
    assert "another Salesforce organization" in response.json()["detail"]
    assert await events_of(client, tokens["read"]) == []
    assert await inbox_of(client, tokens["admin"]) == []


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE notifications [<!ENTITY org SYSTEM "file:///etc/passwd">]>
"""


def hostile(prologue: bytes, entity: str) -> bytes:
    """A real message with a DTD before it and an entity in place of the organization id."""
    body = message(opportunity("04l5e00000Gx7Q6AAJ", "2026-01-05T02:00:00Z"), org=entity)
    return prologue + body.split(b"\n", 1)[1]


@pytest.mark.parametrize(
    "body",
    [hostile(LAUGHS, "&lol9;"), hostile(EXTERNAL, "&org;"), hostile(b"<!DOCTYPE x>\n", "x")],
    ids=["billion-laughs", "external-entity", "doctype"],
)
async def test_dtds_and_entities_are_refused_before_any_expansion(client, tokens, body):
    started = time.perf_counter()
    response = await deliver(client, body)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/xml-forbidden")
    # Expanding lol9 would build 10^9 copies; refusing at the DTD takes no time at all.
    assert time.perf_counter() - started < 5
    assert await events_of(client, tokens["read"]) == []
    assert await inbox_of(client, tokens["admin"]) == []


async def test_a_bomb_without_the_secret_is_refused_unread(client, tokens):
    response = await deliver(client, hostile(LAUGHS, "&lol9;"), "/webhooks/salesforce")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [b"", b"not xml", b"<a>&undeclared;</a>", b'{"json": true}', b"<Envelope/>"],
    ids=["empty", "text", "undeclared-entity", "json", "not-soap"],
)
async def test_a_body_that_is_no_outbound_message_is_400(client, tokens, body):
    response = await deliver(client, body)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/webhook-unreadable")
    assert await events_of(client, tokens["read"]) == []


async def post(client, tokens, *events: dict[str, Any]) -> None:
    response = await client.post(
        "/v1/events", json=list(events), headers=bearer(tokens["events:write"])
    )
    assert response.status_code == 201, response.text


async def deal(client, tokens) -> dict[str, Any]:
    response = await client.get(f"/v1/deals/SF-{DEAL}", headers=bearer(tokens["read"]))
    assert response.status_code == 200
    state: dict[str, Any] = response.json()
    return state


async def test_stage_changes_are_found_against_what_the_ledger_knows(client, tokens):
    # Given a deal the ledger knows as an opportunity of R-07 for 40 000 USD
    subject = f"SF-{DEAL}"
    lead = sourced(subject, "R-07", "2026-01-02T09:00:00Z")
    opportunity_data = {"rep_id": "R-07", "amount": "40000", "currency": "USD"}
    qualify = {**qualified(subject, "R-07", "2026-01-03T09:00:00Z"), "data": opportunity_data}
    await post(client, tokens, lead, qualify)
    # When Salesforce notifies: another stage mapped to the same contract stage with a new
    # amount; then won; then moved back; then won again by the new owner
    steps = [
        (
            "04l5e00000Gx7R1AAJ",
            "2026-01-06T10:00:00.000+0000",
            {"StageName": "Needs Analysis", "Amount": "45000.0"},
        ),
        (
            "04l5e00000Gx7R2AAJ",
            "2026-01-07T10:00:00.000Z",
            {"StageName": "Closed Won", "Amount": "45000.0"},
        ),
        (
            "04l5e00000Gx7R3AAJ",
            "2026-01-08T10:00:00.000Z",
            {"StageName": "Negotiation/Review", "Amount": "45000.0"},
        ),
        (
            "04l5e00000Gx7R4AAJ",
            "2026-01-09T10:00:00.000Z",
            {"StageName": "Closed Won", "Amount": "1.5E7", "OwnerId": BOB},
        ),
    ]
    for notification_id, at, fields in steps:
        assert acknowledged(
            await deliver(client, message(opportunity(notification_id, at, **fields)))
        )
    # Then only the changes became events, in contract terms
    made = [(e["id"], e["type"], e["data"]) for e in (await events_of(client, tokens["read"]))[2:]]
    assert made == [
        (
            "Notification/04l5e00000Gx7R1AAJ/amount",
            "deal.amount_revised",
            {"rep_id": "R-07", "amount": "45000.0", "currency": "USD"},
        ),
        (
            "Notification/04l5e00000Gx7R2AAJ/stage",
            "deal.contract_signed",
            {
                "rep_id": "R-07",
                "amount": "45000.0",
                "currency": "USD",
                "contract_id": f"salesforce-{DEAL}",
            },
        ),
        ("Notification/04l5e00000Gx7R3AAJ/stage", "deal.committee_approved", {"rep_id": "R-07"}),
        (
            "Notification/04l5e00000Gx7R4AAJ/owner",
            "deal.reassigned",
            {"rep_id": "R-07", "to_rep_id": "R-08"},
        ),
        (
            "Notification/04l5e00000Gx7R4AAJ/stage",
            "deal.contract_signed",
            {
                "rep_id": "R-08",
                "amount": "15000000",
                "currency": "USD",
                "contract_id": f"salesforce-{DEAL}",
            },
        ),
    ]
    state = await deal(client, tokens)
    assert (state["stage"], state["owner_rep_id"], state["amount"]) == ("won", "R-08", "15000000")


async def test_lost_and_disqualified_deals_and_unmapped_stages(client, tokens):
    body = message(
        opportunity("04l5e00000Gx7S1AAJ", "2026-01-05T02:00:00Z", StageName="Disqualified"),
        opportunity("04l5e00000Gx7S2AAJ", "2026-01-06T02:00:00Z", StageName="Closed Lost"),
        opportunity("04l5e00000Gx7S3AAJ", "2026-01-07T02:00:00Z", StageName="Perception Analysis"),
        opportunity("04l5e00000Gx7S4AAJ", "2026-01-08T02:00:00Z", OwnerId=STRANGER),
    )
    assert acknowledged(await deliver(client, body))
    made = {e["type"]: e["data"] for e in await events_of(client, tokens["read"])}
    assert made["deal.disqualified"] == {"rep_id": "R-07", "reason": "Disqualified in Salesforce"}
    assert made["deal.lost"] == {"rep_id": "R-07", "reason": "closed lost in Salesforce"}
    kept = {item["key"]: item["reason"] for item in await inbox_of(client, tokens["admin"])}
    assert kept == {
        "Notification/04l5e00000Gx7S3AAJ/stage": "StageName 'Perception Analysis' is not mapped",
        "Notification/04l5e00000Gx7S4AAJ": f"Salesforce user {STRANGER!r} is not mapped",
    }
    [payload] = [
        i["payload"] for i in await inbox_of(client, tokens["admin"]) if i["key"].endswith("S4AAJ")
    ]
    assert payload["type"] == "Opportunity" and payload["fields"]["OwnerId"] == STRANGER


async def test_tasks_and_events_become_calls_and_visits(client, tokens):
    await post(client, tokens, sourced(f"SF-{DEAL}", "R-07", "2026-01-02T09:00:00Z"))
    body = message(
        notification(
            "04l5e00000Gx7T1AAJ",
            "Task",
            Id="00T5e00000AbCdFAAZ",
            WhatId=DEAL,
            OwnerId=BOB,
            TaskSubtype="Call",
            CallType="Inbound",
            CallDurationInSeconds="125",
            CallDisposition="Connected",
            Status="Completed",
            ActivityDate="2026-01-05",
            CreatedDate="2026-01-05T08:30:00.000Z",
        ),
        notification(
            "04l5e00000Gx7T2AAJ",
            "Event",
            Id="00U5e00000XyZaBAAV",
            WhatId=DEAL,
            OwnerId=ALICE,
            Type="Meeting",
            Subject="On-site demo",
            StartDateTime="2026-01-06T02:00:00.000Z",
            EndDateTime="2026-01-06T03:00:00.000Z",
        ),
        notification(
            "04l5e00000Gx7T3AAJ",
            "Event",
            Id="00U5e00000XyZaCAAV",
            WhatId=DEAL,
            OwnerId=ALICE,
            Type="Meeting",
            StartDateTime="2026-01-09T02:00:00.000Z",
        ),
        notification(
            "04l5e00000Gx7T4AAJ",
            "Task",
            Id="00T5e00000AbCdGAAZ",
            WhatId=DEAL,
            OwnerId=ALICE,
            TaskSubtype="Call",
            Status="Not Started",
            CreatedDate="2026-01-05T08:30:00.000Z",
        ),
        notification(
            "04l5e00000Gx7T7AAJ",
            "Task",
            Id="00T5e00000AbCdHAAZ",
            WhatId=DEAL,
            OwnerId=ALICE,
            TaskSubtype="Call",
            Status="Completed",
            ActivityDate="2026-01-03",
            CreatedDate="2026-01-05T18:00:00.000Z",
        ),
        notification(
            "04l5e00000Gx7T8AAJ",
            "Task",
            Id="00T5e00000AbCdIAAZ",
            WhatId=DEAL,
            OwnerId=ALICE,
            TaskSubtype="Email",
            Status="Completed",
            CreatedDate="2026-01-05T18:00:00.000Z",
        ),
        notification(
            "04l5e00000Gx7T5AAJ",
            "Event",
            Id="00U5e00000XyZaDAAV",
            WhatId=DEAL,
            OwnerId=ALICE,
            Type="Meeting",
            StartDateTime="2199-01-01T02:00:00.000Z",
        ),
    )
    assert acknowledged(await deliver(client, body))
    events = by_id(await events_of(client, tokens["read"]))
    call = events["Task/00T5e00000AbCdFAAZ"]
    assert (call["type"], call["time"]) == ("call.logged", "2026-01-05T08:30:00+00:00")
    assert call["data"] == {
        "rep_id": "R-08",
        "direction": "inbound",
        "duration_s": 125,
        "outcome": "Connected",
    }
    # A call logged days later is dated on its day (noon UTC); no CallType: the rule's direction
    late = events["Task/00T5e00000AbCdHAAZ"]
    assert late["time"] == "2026-01-03T12:00:00+00:00"
    assert late["data"] == {"rep_id": "R-07", "direction": "outbound", "duration_s": 0}
    # An activity type mapped to null makes nothing and keeps nothing
    assert "Task/00T5e00000AbCdIAAZ" not in events
    first, second = events["Event/00U5e00000XyZaBAAV"], events["Event/00U5e00000XyZaCAAV"]
    assert (first["type"], first["time"]) == ("visit.completed", "2026-01-06T02:00:00+00:00")
    assert first["data"] == {"rep_id": "R-07", "kind": "FSI"}
    assert second["data"] == {"rep_id": "R-07", "kind": "FUA"}
    kept = {item["key"]: item["reason"] for item in await inbox_of(client, tokens["admin"])}
    assert kept == {
        "Notification/04l5e00000Gx7T4AAJ": "the task is not completed yet",
        "Notification/04l5e00000Gx7T5AAJ": "the Event has not happened yet",
    }
    # A visit notified again (edited in Salesforce) counts once, and keeps its kind
    again = message(
        notification(
            "04l5e00000Gx7T6AAJ",
            "Event",
            Id="00U5e00000XyZaBAAV",
            WhatId=DEAL,
            OwnerId=ALICE,
            Type="Meeting",
            StartDateTime="2026-01-06T02:00:00.000Z",
        )
    )
    assert acknowledged(await deliver(client, again))
    assert len(await events_of(client, tokens["read"])) == len(events)
    state = await deal(client, tokens)
    assert (state["fsi_visits"], state["fua_visits"], state["calls"]) == (1, 1, 2)


async def test_the_secret_is_never_logged(client, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    body = message(opportunity("04l5e00000Gx7U1AAJ", "2026-01-05T02:00:00Z"))
    assert acknowledged(await deliver(client, body))
    wrong = SALESFORCE_SECRET[:-1] + "x"
    await deliver(client, body, f"/webhooks/salesforce?token={wrong}")
    # What the service logged (the test's own HTTP client logs the URL it calls)
    logged = "\n".join(
        f"{r.getMessage()} {r.__dict__}" for r in caplog.records if not r.name.startswith("httpx")
    )
    assert "/webhooks/salesforce" in logged and "refused (salesforce)" in logged
    assert SALESFORCE_SECRET not in logged and wrong not in logged


@pytest.mark.parametrize(
    ("section", "environ", "error"),
    [
        ({"organization_id": SALESFORCE_ORG}, {}, "needs secret_env"),
        (
            {"organization_id": SALESFORCE_ORG, "secret_env": "S"},
            {"S": "short-secret"},
            "32 to 256 characters",
        ),
        (
            {"organization_id": SALESFORCE_ORG, "secret_env": "S"},
            {"S": "a secret with spaces that is long enough"},
            "32 to 256 characters",
        ),
    ],
    ids=["no-secret", "short", "not-url-safe"],
)
def test_the_receiver_needs_a_secret_fit_for_a_url(section, environ, error):
    with pytest.raises(ValidationError) as raised:
        WebhookConfig.model_validate({"salesforce": section}, context={"environ": environ})
    assert error in str(raised.value)
    for value in environ.values():
        assert value not in str(raised.value)


def test_the_importer_reads_the_receivers_mapping_file(tmp_path):
    # The file that configures the receiver (organization and secret) drives an import too.
    mapping = load_import_mapping(write_config(tmp_path))
    assert mapping.salesforce is not None
    assert mapping.salesforce.stages["Closed Won"] == Rule(type="deal.contract_signed")


def test_the_importer_may_use_the_section_without_a_receiver():
    config = WebhookConfig.model_validate(
        {"salesforce": {"stages": {"Closed Won": "deal.contract_signed"}}}, context={"environ": {}}
    )
    assert config.salesforce is not None and config.salesforce.organization_id is None
