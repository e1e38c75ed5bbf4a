"""`/webhooks/*`: vendor receivers, outside `/v1`, each authenticated by the vendor's own scheme.

Nothing is read past the size limit, and nothing is stored, before a delivery is authenticated.
See docs/integrations.md for the status codes each vendor gets and why.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from service.api.deps import ServicesDep
from service.api.http.limited_body import read_limited
from service.api.http.problems import Problem
from service.api.security.failed_auth import count_failure, refuse_if_blocked
from service.application.services import Services
from service.events.codec import PLAIN_JSON, BodyError, decode_body
from service.events.json_keys import DuplicateKeys, check_unique_keys
from service.webhooks.aircall import map_aircall
from service.webhooks.context import ledger_lookup
from service.webhooks.hubspot import map_hubspot
from service.webhooks.intake import Intake
from service.webhooks.outbound_messages import ACK, UnreadableMessage, parse_outbound_message
from service.webhooks.outcomes import UNREADABLE, Outcome, Unmapped, content_key
from service.webhooks.pipedrive import map_pipedrive
from service.webhooks.salesforce import map_salesforce
from service.webhooks.signatures import (
    Unauthenticated,
    check_basic,
    check_hubspot,
    check_query_secret,
    check_salesforce_org,
    check_standard,
    check_timestamp,
    check_token,
    parse_int,
    required,
)
from service.webhooks.standard import contract_errors, map_standard
from service.webhooks.token_scan import check_token_scanned

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_log = logging.getLogger(__name__)
_NOT_JSON = object()


class WebhookReceipt(BaseModel):
    """What became of each item: stored (`created`/`duplicate`) or kept in the inbox."""

    received: int
    created: int
    inbox: int
    results: list[dict[str, Any]]


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookReceipt, "description": "Everything was known already (a replay)."},
    201: {"model": WebhookReceipt, "description": "At least one new event was stored."},
    202: {"model": WebhookReceipt, "description": "Authenticated but unmapped: kept in the inbox."},
}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}


def _refused(
    request: Request, vendor: str, exc: Unauthenticated, challenge: str | None = None
) -> Problem:
    _log.info("webhook delivery refused (%s): %s", vendor, exc.reason)
    count_failure(request)
    headers = {"WWW-Authenticate": challenge} if challenge else None
    slug = "webhook-expired" if exc.expired else "webhook-unauthenticated"
    return Problem(401, slug, exc.reason, headers=headers)


def _not_configured(name: str) -> Problem:
    return Problem(404, "webhook-not-configured", f"no {name} webhook receiver is configured")


def _json(body: bytes) -> Any:
    """The parsed body; `_NOT_JSON` if it is not JSON or repeats a key in an object."""
    try:
        parsed = orjson.loads(body)
        check_unique_keys(body, parsed)
    except (orjson.JSONDecodeError, DuplicateKeys):
        return _NOT_JSON
    return parsed


def _unreadable(body: bytes) -> list[Outcome]:
    text = body.decode("utf-8", errors="replace")
    return [Unmapped(content_key(text), UNREADABLE, {"body": text})]


def _check_size(services: Services, outcomes: list[Outcome]) -> None:
    if len(outcomes) > services.settings.max_batch_events:
        limit = services.settings.max_batch_events
        raise Problem(413, "batch-too-large", f"a delivery holds at most {limit} items")


async def _take(services: Services, vendor: str, actor: str, outcomes: list[Outcome]) -> Any:
    _check_size(services, outcomes)
    receipt = await Intake(services.appender, services.inbox).take(vendor, outcomes, actor)
    body = WebhookReceipt(
        received=len(outcomes),
        created=receipt.created,
        inbox=receipt.inboxed,
        results=receipt.results,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=receipt.status_code)


def _public_uri(request: Request, base: str | None) -> str:
    """The URI HubSpot signed: the configured public base URL and this request's path."""
    if base is None:
        return str(request.url)
    query = request.url.query
    return base.rstrip("/") + request.url.path + (f"?{query}" if query else "")


@router.post("/hubspot", summary="HubSpot webhooks", responses=_RESPONSES, openapi_extra=_BODY)
async def hubspot(request: Request, services: ServicesDep) -> Any:
    """Deal property changes from a HubSpot app, signed with X-HubSpot-Signature-v3."""
    config = services.webhooks.hubspot
    if config is None:
        raise _not_configured("HubSpot")
    refuse_if_blocked(request)
    stamp = request.headers.get("x-hubspot-request-timestamp")
    try:
        sent_ms = parse_int(stamp, "X-HubSpot-Request-Timestamp")
        check_timestamp(sent_ms / 1000, time.time(), services.webhooks.tolerance_seconds)
        body = await read_limited(request, services.settings.max_body_bytes)
        check_hubspot(
            config.client_secret.get_secret_value(),
            request.method,
            _public_uri(request, services.webhooks.public_base_url),
            body,
            str(stamp),
            request.headers.get("x-hubspot-signature-v3"),
        )
    except Unauthenticated as exc:
        raise _refused(request, "hubspot", exc) from exc
    parsed = _json(body)
    if parsed is _NOT_JSON:
        outcomes = _unreadable(body)
    else:
        items = parsed if isinstance(parsed, list) else [parsed]
        outcomes = await map_hubspot(items, config, ledger_lookup(services.reader))
    return await _take(services, "hubspot", "webhook:hubspot", outcomes)


@router.post(
    "/pipedrive", summary="Pipedrive webhooks v2", responses=_RESPONSES, openapi_extra=_BODY
)
async def pipedrive(request: Request, services: ServicesDep) -> Any:
    """Deal and activity changes from Pipedrive webhooks v2, with HTTP Basic credentials."""
    config = services.webhooks.pipedrive
    if config is None:
        raise _not_configured("Pipedrive")
    refuse_if_blocked(request)
    try:
        check_basic(
            request.headers.get("authorization"),
            config.username.get_secret_value(),
            config.password.get_secret_value(),
        )
    except Unauthenticated as exc:
        raise _refused(request, "pipedrive", exc, 'Basic realm="funnel-ledger-webhooks"') from exc
    body = await read_limited(request, services.settings.max_body_bytes)
    parsed = _json(body)
    outcomes = _unreadable(body) if parsed is _NOT_JSON else map_pipedrive(parsed, config)
    return await _take(services, "pipedrive", "webhook:pipedrive", outcomes)


@router.post("/aircall", summary="Aircall webhooks", responses=_RESPONSES, openapi_extra=_BODY)
async def aircall(request: Request, services: ServicesDep) -> Any:
    """`call.ended` from Aircall, authenticated by the token in the body."""
    config = services.webhooks.aircall
    if config is None:
        raise _not_configured("Aircall")
    refuse_if_blocked(request)
    body = await read_limited(request, services.settings.max_body_bytes)
    token = config.token.get_secret_value()
    try:
        check_token_scanned(body, token)
        parsed = _json(body)
        given = parsed.get("token") if isinstance(parsed, dict) else None
        check_token(given, token)
    except Unauthenticated as exc:
        raise _refused(request, "aircall", exc) from exc
    return await _take(services, "aircall", "webhook:aircall", map_aircall(parsed, config))


@router.post(
    "/standard/{sender}",
    summary="Standard Webhooks carrying CloudEvents",
    responses=_RESPONSES,
    openapi_extra=_BODY,
)
async def standard(
    request: Request,
    services: ServicesDep,
    sender: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")],
) -> Any:
    """Contract CloudEvents signed per Standard Webhooks (webhook-id, -timestamp, -signature)."""
    config = services.webhooks.standard.get(sender)
    if config is None:
        raise _not_configured(f"Standard Webhooks sender {sender!r}")
    refuse_if_blocked(request)
    stamp = request.headers.get("webhook-timestamp")
    try:
        msg_id = required(request.headers.get("webhook-id"), "webhook-id")
        sent = parse_int(stamp, "webhook-timestamp")
        check_timestamp(sent, time.time(), services.webhooks.tolerance_seconds)
        body = await read_limited(request, services.settings.max_body_bytes)
        secrets = [secret.get_secret_value() for secret in config.secrets]
        check_standard(secrets, msg_id, str(stamp), body, request.headers.get("webhook-signature"))
    except Unauthenticated as exc:
        raise _refused(request, f"standard:{sender}", exc) from exc
    # The sender speaks the contract: what `POST /v1/events` refuses is refused here too.
    try:
        items = decode_body(PLAIN_JSON, {}, body).events
    except BodyError as exc:
        extra: dict[str, Any] = {}
        if exc.errors:
            extra["errors"] = [{"pointer": p, "detail": d} for p, d in exc.errors]
        raise Problem(exc.status, exc.slug, exc.detail, title=exc.title, **extra) from exc
    if problems := contract_errors(items, sender, config, datetime.now(UTC)):
        raise Problem(
            422,
            "invalid-events",
            "one or more events are invalid; nothing was stored",
            title="Invalid events",
            errors=problems,
        )
    outcomes = map_standard(items, sender, config, msg_id)
    return await _take(services, f"standard:{sender}", f"webhook:standard:{sender}", outcomes)


_SOAP_XML = "text/xml; charset=utf-8"
_SALESFORCE_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "token",
            "in": "query",
            "required": True,
            "description": "the receiver's secret, part of the endpoint URL set in Salesforce",
            "schema": {"type": "string"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"text/xml": {"schema": {"type": "string", "description": "SOAP 1.1"}}},
    },
}
_SALESFORCE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every notification is stored, known already, or kept in the inbox: "
        "the SOAP acknowledgement (`<Ack>true</Ack>`) that stops Salesforce's retries.",
        "content": {"text/xml": {"schema": {"type": "string"}}},
    },
}


@router.post(
    "/salesforce",
    summary="Salesforce Outbound Messages",
    response_class=Response,
    responses=_SALESFORCE_RESPONSES,
    openapi_extra=_SALESFORCE_OPENAPI,
)
async def salesforce(request: Request, services: ServicesDep) -> Response:
    """Opportunity, Task and Event notifications from Salesforce workflow or flow actions; the
    endpoint URL carries the secret (`?token=`), the message its organization id."""
    config = services.webhooks.salesforce
    if config is None or config.organization_id is None or config.secret is None:
        raise _not_configured("Salesforce Outbound Message")
    refuse_if_blocked(request)
    try:
        check_query_secret(request.query_params.getlist("token"), config.secret.get_secret_value())
    except Unauthenticated as exc:
        raise _refused(request, "salesforce", exc) from exc
    body = await read_limited(request, services.settings.max_body_bytes)
    try:
        message = parse_outbound_message(body)
    except UnreadableMessage as exc:
        slug = "xml-forbidden" if exc.forbidden else "webhook-unreadable"
        raise Problem(400, slug, exc.reason) from exc
    try:
        check_salesforce_org(message.organization_id, config.organization_id)
    except Unauthenticated as exc:
        raise _refused(request, "salesforce", exc) from exc
    lookup = ledger_lookup(services.reader)
    outcomes = await map_salesforce(message.notifications, config, lookup)
    _check_size(services, outcomes)
    await Intake(services.appender, services.inbox).take(
        "salesforce", outcomes, "webhook:salesforce"
    )
    return Response(ACK, media_type=_SOAP_XML)
