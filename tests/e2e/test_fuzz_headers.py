"""Fuzzing every route of the app through HTTP: headers, query and path parameters and bodies.

`test_fuzz.py` fuzzes what `openapi.yaml` documents; this fuzzes what a route reads without
documenting it (headers such as Last-Event-ID, webhook timestamps, ce-* attributes, the
dashboard's query) and the routes outside the document. Whatever arrives, the answer is never
a 5xx, and a 4xx is a problem+json body (an HTML page on the dashboard's own routes).

Instants stay within 1900-01-01..2200-01-01, the range the service documents for them.
`FUNNEL_FUZZ_EXAMPLES` sets the examples per route (default 40; a deterministic run).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode
from xml.sax.saxutils import escape

import anyio
import orjson
import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Message

from service.api.app import create_app
from service.keys.api_keys import Scope
from service.settings import Settings
from service.webhooks.signatures import hubspot_v3_signature, standard_signature
from tests import databases
from tests.conftest import make_settings
from tests.webhooks import (
    AIRCALL_TOKEN,
    ERP_SECRET_NEW,
    HUBSPOT_SECRET,
    PIPEDRIVE_PASSWORD,
    PIPEDRIVE_USER,
    PUBLIC_BASE,
    SALESFORCE_ORG,
    SALESFORCE_SECRET,
    SECRETS,
    write_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUNNEL_FUZZ_EXAMPLES", "40"))
HTML_ROUTES = frozenset({"/", "/reps/{rep_id:path}", "/login", "/logout"})
"""The dashboard's pages answer a person: their 4xx are pages, not problem+json."""
NOT_PROBLEMS = frozenset({("POST", "/v1/admin/rebuild", 409)})
"""A 4xx documented with another body: a second rebuild gets the running one's progress."""
SAMPLE_PATH_VALUES = {"deal_id": "D-1", "key_id": "0123456789abcdef", "sender": "erp"}
QUERY_NAMES = (
    "from",
    "to",
    "period",
    "as_of",
    "known_at",
    "after",
    "limit",
    "format",
    "group_by",
    "interval",
    "min_position",
    "consistency",
    "rep_id",
    "lang",
    "next",
    "rows",
    "known",
    "token",
)
"""Names read by some route, tried on every route (the dashboard reads its query directly)."""
HEADER_NAMES = (
    "last-event-id",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-hubspot-request-timestamp",
    "x-hubspot-signature-v3",
    "x-request-id",
    "accept",
    "accept-language",
    "origin",
    "referer",
    "cookie",
    "content-type",
    "ce-specversion",
    "ce-id",
    "ce-source",
    "ce-type",
    "ce-subject",
    "ce-time",
    "ce-expectedversion",
)
OWN_HEADERS = {
    "/v1/events": ("content-type", "ce-expectedversion", "ce-time", "ce-id", "ce-subject"),
    "/v1/events/batch": ("content-type",),
    "/v1/events/stream": ("last-event-id",),
    "/webhooks/hubspot": ("x-hubspot-request-timestamp", "x-hubspot-signature-v3"),
    "/webhooks/standard/{sender}": ("webhook-id", "webhook-timestamp", "webhook-signature"),
    "/login": ("origin", "referer", "content-type"),
    "/logout": ("origin", "referer", "cookie"),
    "/": ("cookie",),
    "/reps/{rep_id:path}": ("cookie",),
}
"""Headers a route reads without declaring them: each is sent half of the time."""
FIRST_DAY, LAST_DAY = date(1900, 1, 2), date(2199, 12, 30)
"""A day inside the documented range of instants, whatever the offset."""

# Values: numbers as others write them (Unicode digits, signs, exponents, 64-bit edges),
# instants and periods, words a route knows, and any text with a hidden or trailing character.
NUMBERS = st.sampled_from(
    [
        "0",
        "1",
        "2",
        "-1",
        "+5",
        "1.5",
        "1e3",
        "0x10",
        "1_000",
        " 10",
        "10 ",
        "10\n",
        "²",
        "٣",
        "\uff11",
        "NaN",
        "inf",
        str(2**53),
        str(2**63 - 1),
        str(2**63),
        str(2**64),
        "9" * 40,
        "",
    ]
)
HOSTILE = st.sampled_from(
    [
        "²",
        "٣",
        "\uff11\uff12",
        "-1",
        " 1",
        "1 ",
        "1\n",
        "0" * 30,
        str(2**63),
        "1e400",
        "\u200b1",
        "",
    ]
)
"""What broke parsers once: non-ASCII digits, signs, spaces, newlines, 64-bit overflows."""
WORDS = st.sampled_from(
    [
        "rep",
        "team",
        "all",
        "account",
        "json",
        "csv",
        "day",
        "week",
        "month",
        "quarter",
        "strong",
        "eventual",
        "then",
        "en",
        "zh-TW",
        "lead",
        "won",
        "erp",
        "hubspot",
        "/",
        "application/json",
        "text/csv",
        "text/event-stream",
        "*/*",
        "D-1",
        "R-1",
        "true",
    ]
)
OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)), timezone(timedelta(0))]
)
DAYS = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)
INSTANTS = st.one_of(
    DAYS.map(date.isoformat),
    st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30), timezones=OFFSETS
    ).map(datetime.isoformat),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1)).map(
        lambda moment: moment.isoformat() + "Z"
    ),
)
PERIODS = st.builds(
    lambda year, kind, number: f"{year}-{kind}{number:02d}" if kind != "Q" else f"{year}-Q{number}",
    st.integers(1900, 2199),
    st.sampled_from(["Q", "W", "", "q", "w"]),
    st.integers(0, 60),
)
AFFIXES = st.sampled_from(["", "", "", "\n", " ", "\t", "\u200b", "\u202e", "%", "\r\n"])
TEXT = st.text(max_size=30)
VALUES = st.builds(
    lambda value, suffix, prefix: prefix + value + suffix,
    st.one_of(HOSTILE, NUMBERS, WORDS, INSTANTS, PERIODS, TEXT),
    AFFIXES,
    st.sampled_from(["", "", "", "", " ", "\u200b"]),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | VALUES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(VALUES, inner, max_size=4),
    max_leaves=12,
)
EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "fuzz-1",
    "source": "fuzz",
    "type": "deal.contract_signed",
    "subject": "D-1",
    "time": "2026-01-12T10:00:00Z",
    "data": {"rep_id": "R-1", "amount": "10.00", "currency": "TWD", "contract_id": "C-1"},
}
LEAD = {
    **EVENT,
    "id": "fuzz-0",
    "type": "lead.sourced",
    "time": "2026-01-05T10:00:00+08:00",
    "data": {"rep_id": "R-1", "account": {"name": "Acme"}, "channel": "web"},
}
EVENT_TYPES = st.sampled_from(
    [
        "lead.sourced",
        "deal.qualified",
        "deal.contract_signed",
        "event.retracted",
        "call.logged",
        "rep.team_assigned",
        "target.set",
        "team.priorities_set",
        "visit.completed",
    ]
)


@dataclass
class Request:
    """One request the fuzzer makes: raw path, query, headers and body."""

    method: str
    path: str
    query: str = ""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True)
class Route:
    """A route of the app and the parameters it declares."""

    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    header_params: tuple[str, ...]


def _names(dependant: Dependant | None, kind: str) -> tuple[str, ...]:
    """The names of a dependant's parameters of one kind (`query`, ...), its dependencies' too."""
    if dependant is None:
        return ()
    own = tuple(param.alias for param in getattr(dependant, f"{kind}_params"))
    return own + tuple(n for child in dependant.dependencies for n in _names(child, kind))


def _routes(app: FastAPI) -> list[Route]:
    found: dict[tuple[str, str], Route] = {}
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        for method in sorted(set(context.methods or {"*"}) - {"HEAD"}):
            found[(method, str(context.path))] = Route(
                method=method,
                path=str(context.path),
                path_params=_names(dependant, "path"),
                query_params=_names(dependant, "query"),
                header_params=tuple(n.replace("_", "-") for n in _names(dependant, "header")),
            )
    return sorted(found.values(), key=lambda route: (route.path, route.method))


ROUTES = _routes(create_app(Settings()))


def _header_bytes(value: str, encoding: str = "utf-8") -> bytes:
    """A header value as a client could send it, without the bytes HTTP forbids there.

    The server reads header bytes as latin-1: in UTF-8, '²' arrives as 'Â²'; in latin-1, as '²'.
    """
    raw = value.encode(encoding, errors="ignore")
    return bytes(b for b in raw if (b >= 0x20 and b != 0x7F) or b == 0x09)


@st.composite
def _event(draw: st.DrawFn) -> Any:
    """An event with some of its attributes or data fields replaced or dropped."""
    event: dict[str, Any] = {**EVENT, "type": draw(EVENT_TYPES), "data": {**EVENT["data"]}}
    for _ in range(draw(st.integers(0, 3))):
        data = event.get("data")
        target = data if isinstance(data, dict) and draw(st.booleans()) else event
        name = draw(st.sampled_from([*sorted(target), "expectedversion", "ext", "team_id"]))
        action = draw(st.sampled_from(["replace", "replace", "drop"]))
        if action == "drop":
            target.pop(name, None)
        else:
            target[name] = draw(JSON_VALUES)
    return event


@st.composite
def _body(draw: st.DrawFn) -> tuple[bytes, str | None]:
    kind = draw(st.sampled_from(["none", "bytes", "json", "event", "batch", "repeat", "form"]))
    if kind == "none":
        return b"", None
    if kind == "bytes":
        return draw(st.binary(max_size=64)), draw(st.sampled_from([None, "application/json"]))
    if kind == "form":
        form = {"key": draw(VALUES), "next": draw(VALUES)}
        return urlencode(form).encode(), "application/x-www-form-urlencoded"
    content_type = draw(
        st.sampled_from(
            [
                "application/json",
                "application/cloudevents+json",
                "application/cloudevents-batch+json",
                "text/plain",
            ]
        )
    )
    if kind == "json":
        return orjson.dumps(draw(JSON_VALUES)), content_type
    if kind == "event":
        return orjson.dumps(draw(_event())), content_type
    if kind == "batch":
        return orjson.dumps(draw(st.lists(_event(), min_size=0, max_size=3))), content_type
    # A key given twice, once by the text and once again at its end.
    text = orjson.dumps(draw(_event()))
    return text[:-1] + b',"id":"again"}', content_type


def _signed(route: Route, request: Request) -> None:
    """Authenticate a webhook delivery as its vendor would, so that its body is read."""
    now = int(time.time())
    if route.path == "/webhooks/hubspot":
        stamp = str(now * 1000)
        signature = hubspot_v3_signature(
            HUBSPOT_SECRET, "POST", PUBLIC_BASE + request.path, request.body, stamp
        )
        extra = {"x-hubspot-request-timestamp": stamp, "x-hubspot-signature-v3": signature}
    elif route.path == "/webhooks/standard/{sender}":
        stamp, msg_id = str(now), "msg-fuzz"
        signature = standard_signature(ERP_SECRET_NEW, msg_id, stamp, request.body)
        extra = {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signature}
    elif route.path == "/webhooks/pipedrive":
        credentials = base64.b64encode(f"{PIPEDRIVE_USER}:{PIPEDRIVE_PASSWORD}".encode())
        extra = {"authorization": "Basic " + credentials.decode()}
    elif route.path == "/webhooks/salesforce":
        # Outbound Messages cannot sign: the endpoint URL carries the secret.
        kept = [(name, value) for name, value in parse_qsl(request.query) if name != "token"]
        request.query = urlencode([("token", SALESFORCE_SECRET), *kept])
        return
    else:
        return
    names = {name.encode() for name in extra}
    request.headers = [(n, v) for n, v in request.headers if n not in names]
    request.headers += [(name.encode(), value.encode()) for name, value in extra.items()]


@st.composite
def _outbound_message(draw: st.DrawFn) -> bytes:
    """A Salesforce Outbound Message whose sObject type and field values are drawn."""
    sobject = draw(st.sampled_from(["Opportunity", "Task", "Event", "Account"]))
    names = [
        "Id",
        "WhatId",
        "OwnerId",
        "StageName",
        "Amount",
        "CurrencyIsoCode",
        "LastModifiedDate",
        "TaskSubtype",
        "Type",
        "Status",
        "CallDurationInSeconds",
        "StartDateTime",
        "CompletedDateTime",
        "ActivityDate",
    ]
    fields = draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=8))
    fields.setdefault("Id", "0065e00000Gx7QzAAJ")
    cells = "".join(f"<sf:{name}>{escape(value)}</sf:{name}>" for name, value in fields.items())
    org = draw(st.sampled_from([SALESFORCE_ORG, SALESFORCE_ORG[:15], "00D5e000000KQ2fEAG"]))
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k5e000000CaRkAAK</ActionId>"
        "<Notification><Id>04l5e00000Gx7Q1AAJ</Id>"
        f'<sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"{cells}</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _binary_mode(request: Request, event: dict[str, Any]) -> None:
    """Send `event` in binary mode: its attributes as ce-* headers (unless already fuzzed)."""
    given = {name for name, _ in request.headers}
    for name, value in event.items():
        header = f"ce-{name}".encode()
        if name != "data" and header not in given and isinstance(value, str | int):
            request.headers.append((header, _header_bytes(str(value))))
    request.body = orjson.dumps(event.get("data"))
    request.headers.append((b"content-type", b"application/json"))


@st.composite
def requests(draw: st.DrawFn, route: Route, token: str) -> Request:
    """A request to `route`: its own parameters and some others, each maybe hostile."""
    path = route.path
    for name in route.path_params:
        value = draw(st.one_of(st.just(SAMPLE_PATH_VALUES.get(name, "x")), VALUES))
        path = path.replace("{" + name + "}", quote(value, safe="") or "x")
    if route.method == "*":  # a mount (static files): any path below it
        path += "/" + quote(draw(VALUES))
    names = st.sampled_from(sorted(set(route.query_params) | set(QUERY_NAMES)))
    query = draw(st.lists(st.tuples(names, VALUES), max_size=4))
    own = (*route.header_params, *OWN_HEADERS.get(route.path, ()))
    headers = {name: draw(VALUES) for name in own if draw(st.booleans())}
    headers |= draw(st.dictionaries(st.sampled_from(HEADER_NAMES), VALUES, max_size=2))
    request = Request(
        method="GET" if route.method == "*" else route.method,
        path=path,
        query=urlencode(query),
        headers=[
            (name.encode(), _header_bytes(value, draw(st.sampled_from(["utf-8", "latin-1"]))))
            for name, value in headers.items()
        ],
    )
    if route.path == "/v1/events" and draw(st.booleans()):
        _binary_mode(request, draw(_event()))
    elif route.method == "POST":
        request.body, content_type = draw(_body())
        if content_type and "content-type" not in headers:
            request.headers.append((b"content-type", content_type.encode()))
        if route.path == "/webhooks/aircall" and draw(st.booleans()):
            payload = draw(JSON_VALUES)
            payload = {**payload, "token": AIRCALL_TOKEN} if isinstance(payload, dict) else payload
            request.body = orjson.dumps(payload)
        if route.path == "/webhooks/salesforce" and draw(st.booleans()):
            request.body = draw(_outbound_message())
        if draw(st.booleans()):
            _signed(route, request)
    credential = draw(st.sampled_from(["key", "key", "key", "none", "other"]))
    if credential != "none" and not any(name == b"authorization" for name, _ in request.headers):
        value = f"Bearer {token}" if credential == "key" else "Bearer " + draw(VALUES)
        request.headers.append((b"authorization", _header_bytes(value)))
    return request


@dataclass
class Answer:
    """What came back: the status, the headers and as much of the body as was sent."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


async def _call(app: FastAPI, request: Request) -> Answer:
    """Send `request` to the app as an ASGI server would; the client leaves once answered.

    The client disconnects as soon as the answer starts, so that a stream (SSE, exports)
    ends instead of running on; an exception the app lets out fails the test.
    """
    answer = Answer()
    started = anyio.Event()
    sent_body = False

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {
                bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
                for k, v in message.get("headers", [])
            }
            started.set()
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": unquote(request.path),
        "raw_path": request.path.encode(),
        "root_path": "",
        "query_string": request.query.encode(),
        "headers": [(b"host", b"testserver"), *request.headers],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
    }
    with anyio.fail_after(30):
        await app(scope, receive, send)
    return answer


@pytest.fixture(scope="module")
async def fuzz_database(test_server: databases.TestServer) -> Any:
    """One migrated database for the whole module."""
    url = await test_server.create_database()
    yield url
    await test_server.drop_database(url)


@pytest.fixture(scope="module")
def served(fuzz_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app with its lifespan running in a portal's event loop (webhook receivers
    configured), the portal, and an admin token."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SECRETS.items():
            patch.setenv(name, value)
        config = write_config(Path(tmp_path_factory.mktemp("fuzz-webhooks")))
        app = create_app(
            make_settings(
                fuzz_database,
                FUNNEL_WEBHOOKS_CONFIG=str(config),
                FUNNEL_READ_WAIT_SECONDS=0.05,
                FUNNEL_RATE_LIMIT_BURST=1_000_000,
            )
        )
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(app.router.lifespan_context(app)),
        ):
            keys = app.state.services.keys
            token = portal.call(keys.create, "fuzz", frozenset({Scope.ADMIN})).token
            seed = Request(
                "POST",
                "/v1/events",
                headers=[
                    (b"authorization", f"Bearer {token}".encode()),
                    (b"content-type", b"application/json"),
                ],
                body=orjson.dumps([LEAD, EVENT]),
            )
            seeded = portal.call(_call, app, seed)
            assert seeded.status == 201, seeded.body
            yield app, portal, token


def _check(route: Route, request: Request, answer: Answer) -> None:
    described = f"{request.method} {request.path}?{request.query} {request.headers!r}"
    assert answer.status < 500, f"{described} -> {answer.status}: {answer.body[:500]!r}"
    exempt = route.path in HTML_ROUTES or (route.method, route.path, answer.status) in NOT_PROBLEMS
    if 400 <= answer.status < 500 and not exempt:
        media = answer.headers.get("content-type", "")
        assert media.startswith("application/problem+json"), f"{described} -> {media}"
        assert orjson.loads(answer.body)["status"] == answer.status, described


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_no_request_makes_the_service_fail(route: Route, served: Any) -> None:
    app, portal, token = served

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        request = data.draw(requests(route, token))
        answer = portal.call(_call, app, request)
        _check(route, request, answer)

    run()


GRID_VALUES = ("²", "٣", "-1", " 1", "1\n", "9" * 30, str(2**63), "\u200b1", "2026-Q1\n", "")
"""Each tried alone in each parameter and header a route reads: the traps that once gave 500s."""


def _grid(route: Route, token: str) -> Iterator[Request]:
    """The route's plain request, then one request per (parameter or header, hostile value)."""
    path = route.path
    for name in route.path_params:
        path = path.replace("{" + name + "}", SAMPLE_PATH_VALUES.get(name, "x"))
    plain = Request(route.method if route.method != "*" else "GET", path)
    plain.headers.append((b"authorization", f"Bearer {token}".encode()))
    if route.path == "/v1/events":
        _binary_mode(plain, {**EVENT, "id": "grid-1"})
    yield plain
    for value in GRID_VALUES:
        for name in route.query_params:
            yield replace(plain, query=urlencode({name: value}))
        for name in (*route.header_params, *OWN_HEADERS.get(route.path, ())):
            encoded = _header_bytes(value, "latin-1" if value.isprintable() else "utf-8")
            others = [(n, v) for n, v in plain.headers if n != name.encode()]
            yield replace(plain, headers=[*others, (name.encode(), encoded)])
        for name in route.path_params:
            yield replace(plain, path=route.path.replace("{" + name + "}", quote(value, safe="")))


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_no_hostile_value_in_any_parameter_makes_the_service_fail(
    route: Route, served: Any
) -> None:
    app, portal, token = served
    for request in _grid(route, token):
        _check(route, request, portal.call(_call, app, request))
