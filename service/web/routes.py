"""The dashboard's routes outside `/v1`: `/`, `/reps/{rep_id}`, `/scoreboard.csv`, `/login`,
`/logout`, `/static/…`.

They are public or session-based: `/login` and `/static` are public, `/`, a rep's one-on-one
`/reps/{rep_id}` and the CSV download `/scoreboard.csv` need a session made by signing in
with a key that may read, and `/logout` ends it. None is in the OpenAPI document.
Every request that may change state (any method but GET and HEAD) must come from this site, as
its `Origin` (or, without one, its `Referer`) says.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from service.api.http.limited_body import read_limited
from service.api.http.longest_span import check_span
from service.api.http.problems import Problem, refusal_problem
from service.api.http.scoreboard_csv import scoreboard_csv
from service.api.security.failed_auth import authenticate, count_failure
from service.api.security.rate_limit import enforce_rate_limit
from service.application.errors import UseCaseRefused
from service.application.one_on_one import read_one_on_one
from service.application.services import Services
from service.application.weekly_meeting import read_weekly_meeting
from service.events.text import identifier_problem
from service.keys.api_keys import ApiKey
from service.projections.periods import start_of
from service.sessions.signed_out import EndedSessions
from service.web import i18n
from service.web.board import Board, fallback_day, read_board
from service.web.meeting import (
    USUAL_DAYS,
    amount,
    one_on_one_window,
    quarter_start,
    rep_page,
    weekly_page,
    weekly_window,
)
from service.web.origin import same_origin
from service.web.page import cards, charts, has_goals, money, picker, shows_calls, talk_time
from service.web.sessions import (
    COOKIE,
    SessionSigner,
    clear_session,
    end_session,
    may_read,
    session_key,
    set_session,
)
from service.web.view import View, parse_view, shortcut_of

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteRequest(Exception):  # noqa: N818 - a refusal, not a bug
    """A state-changing dashboard request that does not come from this site."""


async def _from_this_site(request: Request) -> None:
    """Refuse a state-changing request whose `Origin` or `Referer` is not this site's."""
    if request.method in _SAFE_METHODS:
        return
    if not same_origin(request, request.app.state.settings.public_url):
        raise CrossSiteRequest


async def _services(request: Request) -> Services:
    """The running service's collaborators, as `bootstrap` built them."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]

# On the router, so that every dashboard route added later is guarded too.
router = APIRouter(include_in_schema=False, dependencies=[Depends(_from_this_site)])
MAX_REP_ID = 128
"""The longest rep id an event may carry (contract §3): a longer one is no rep."""
MAX_FORM_BYTES = 8192
"""The sign-in form's body limit (a key and a path), applied while it streams in."""
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_templates = Environment(
    loader=PackageLoader("service.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def install(app: FastAPI) -> None:
    """Add the dashboard to the app: its routes, its static files and its session signer."""
    settings = app.state.settings
    secret = settings.session_secret
    app.state.sessions = SessionSigner(
        secret.get_secret_value().encode() if secret else secrets.token_bytes(32),
        timedelta(hours=settings.session_hours),
    )
    app.include_router(router)
    app.add_exception_handler(CrossSiteRequest, _refuse_cross_site)
    static = StaticFiles(directory=Path(__file__).with_name("static"))
    app.mount("/static", static, name="static")


def _signer(request: Request) -> SessionSigner:
    signer: SessionSigner = request.app.state.sessions
    return signer


def _secure(request: Request) -> bool:
    """Whether cookies are Secure: the public URL is https, else this request came over https."""
    settings = request.app.state.settings
    if settings.public_url is not None:
        return bool(settings.https)
    return request.url.scheme == "https"


def _ended(services: ServicesDep) -> EndedSessions:
    return EndedSessions(services.engine)


def _language(request: Request) -> str:
    return i18n.choose(
        request.query_params.get("lang"),
        request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language"),
    )


def _page(
    request: Request, template: str, status: int = 200, *, here: bool = True, **context: Any
) -> HTMLResponse:
    """Render a page in the request's language, with the dashboard's security headers.

    The language links lead back to this URL, or with `here=False` to the dashboard (a page
    about a bad URL does not repeat it).
    """
    language = _language(request)
    switch = {
        code: f"{request.url.path}?{urlencode({**request.query_params, 'lang': code})}"
        if here
        else f"/?{urlencode({'lang': code})}"
        for code in i18n.LANGUAGES
    }
    html = _templates.get_template(template).render(
        t=i18n.translator(language), lang=language, lang_urls=switch, **context
    )
    response = HTMLResponse(html, status, headers=_HEADERS)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE,
            language,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )
    return response


def _local(target: str | None) -> str:
    """Only a path of this site may be a redirect target (no `//host` or `scheme:`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


@dataclass(frozen=True, slots=True)
class _Asked:
    """The view a dashboard URL asks for, and why its period was chosen."""

    view: View
    invalid: list[str]
    fallback: bool
    """No period was asked and today's quarter is empty: the last quarter with data is shown."""


@dataclass(frozen=True, slots=True)
class _Shown:
    """The view a dashboard URL asks for, what it shows, and why its period was chosen."""

    view: View
    invalid: list[str]
    board: Board
    fallback: bool


_PERIOD_PARAMS = ("period", "from", "to")


async def _asked(request: Request, services: ServicesDep, key: ApiKey) -> _Asked:
    """The view a URL asks for (a Problem past the API's limits)."""
    zone = services.settings.zone
    today = datetime.now(zone).date()
    # The API's limits: the same per-key bucket, and the same longest period.
    enforce_rate_limit(request, key.key_id)
    asked = any(request.query_params.get(name) for name in _PERIOD_PARAMS)
    earlier = None if asked else await fallback_day(services, today)
    view, invalid = parse_view(request.query_params, zone, earlier or today, today)
    check_span(services.settings.max_span_days, view.start(zone), start_of(view.after, zone))
    fallback = earlier is not None and view.shortcut == shortcut_of("quarter", earlier)
    return _Asked(view, invalid, fallback)


async def _shown(request: Request, services: ServicesDep, key: ApiKey) -> _Shown:
    """Read the view a URL asks for (a Problem past the API's limits)."""
    asked = await _asked(request, services, key)
    board = await read_board(services, asked.view)
    return _Shown(asked.view, asked.invalid, board, asked.fallback)


async def _signed_in(request: Request, services: ServicesDep) -> ApiKey | None:
    cookie = request.cookies.get(COOKIE)
    return await session_key(_signer(request), services.keys, _ended(services), cookie)


def _to_login(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": here}), 303)


def _problem_page(request: Request, error: Problem | UseCaseRefused) -> Response:
    problem = refusal_problem(error) if isinstance(error, UseCaseRefused) else error
    page = _page(request, "error.html", problem.status, detail=problem.detail)
    page.headers.update(problem.headers)
    return page


@router.get("/")
async def dashboard(request: Request, services: ServicesDep) -> Response:
    """The dashboard; without a session, a redirect to the sign-in page."""
    key = await _signed_in(request, services)
    if key is None:
        return _to_login(request)
    zone = services.settings.zone
    try:
        shown = await _shown(request, services, key)
    except (Problem, UseCaseRefused) as error:
        return _problem_page(request, error)
    view, board = shown.view, shown.board
    today = datetime.now(zone).date()
    weekly = await read_weekly_meeting(
        services,
        weekly_window(view, zone, board.known_at),
        quarter_start=quarter_start(view, zone),
        group_by=view.rows,
    )
    calls = shows_calls(board)
    return _page(
        request,
        "dashboard.html",
        key=key,
        view=view,
        invalid=shown.invalid,
        fallback=shown.fallback,
        current_quarter=shortcut_of("quarter", today),
        board=board,
        totals=board.scoreboard["totals"],
        cards=cards(board.scoreboard["totals"], calls=calls),
        rows=[(row, cards(row, calls=calls)) for row in board.scoreboard["rows"]],
        calls=calls,
        talk_time=talk_time,
        goals=has_goals(board),
        money=money,
        amount=amount,
        charts=charts(board),
        picker=picker(view, today, zone),
        weekly=weekly_page(weekly),
        zone=zone,
    )


def _unknown_rep(request: Request) -> Response:
    """The 404 page of a rep the service does not know (the id is not shown back)."""
    detail = i18n.translator(_language(request))["unknown_rep"]
    return _page(request, "error.html", 404, here=False, detail=detail)


@router.get("/reps/{rep_id:path}")
async def one_on_one(request: Request, services: ServicesDep, rep_id: str) -> Response:
    """A rep's one-on-one page; without a session, a redirect to the sign-in page."""
    key = await _signed_in(request, services)
    if key is None:
        return _to_login(request)
    if not 1 <= len(rep_id) <= MAX_REP_ID or identifier_problem(rep_id) is not None:
        return _unknown_rep(request)
    zone = services.settings.zone
    try:
        asked = await _asked(request, services, key)
    except (Problem, UseCaseRefused) as error:
        return _problem_page(request, error)
    view = asked.view
    known_at = view.as_of_instant(zone) if view.known_then else datetime.now(UTC)
    meeting = await read_one_on_one(services, rep_id, one_on_one_window(view, zone, known_at))
    if meeting is None:
        return _unknown_rep(request)
    return _page(
        request,
        "rep.html",
        key=key,
        view=view,
        invalid=asked.invalid,
        page=rep_page(meeting),
        known_at=known_at,
        money=money,
        amount=amount,
        zone=zone,
        back="/?" + urlencode(view.query()),
        usual_days=USUAL_DAYS,
    )


@router.get("/scoreboard.csv")
async def scoreboard_download(request: Request, services: ServicesDep) -> Response:
    """The dashboard's table as a CSV file that opens right in Excel (with a byte-order mark)."""
    key = await _signed_in(request, services)
    if key is None:
        return _to_login(request)
    try:
        shown = await _shown(request, services, key)
    except (Problem, UseCaseRefused) as error:
        return _problem_page(request, error)
    view = shown.view
    name = f"scoreboard-{view.shortcut or view.first.isoformat()}-{view.rows}-{view.as_of}.csv"
    headers = {
        **_HEADERS,
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Funnel-Position": str(shown.board.position),
    }
    body = scoreboard_csv(shown.board.scoreboard, bom=True)
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/login")
async def login_page(request: Request, services: ServicesDep) -> Response:
    """The sign-in form (straight to the dashboard when already signed in)."""
    target = _local(request.query_params.get("next"))
    cookie = request.cookies.get(COOKIE)
    if await session_key(_signer(request), services.keys, _ended(services), cookie):
        return RedirectResponse(target, 303)
    return _page(request, "login.html", next=target, error=None)


async def _refuse_cross_site(request: Request, _exc: Exception) -> Response:
    """A cross-site form gets the sign-in page with a 403, and nothing done."""
    return _page(request, "login.html", 403, next="/", error="bad_origin")


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> Response:
    """Check a pasted key once; on success start a session and go on to the dashboard."""
    body = await read_limited(request, MAX_FORM_BYTES)
    form = parse_qs(body.decode("utf-8", "replace"))
    target = _local(form.get("next", ["/"])[0])
    token = form.get("key", [""])[0].strip()
    key: ApiKey | None = await authenticate(request, token) if token else None
    now = datetime.now(UTC)
    if key is None:
        count_failure(request)
        return _page(request, "login.html", 401, next=target, error="bad_key")
    if not may_read(key, now):
        return _page(request, "login.html", 403, next=target, error="no_read_scope")
    signer = _signer(request)
    response = RedirectResponse(target, 303, headers={"Cache-Control": "no-store"})
    set_session(response, signer.issue(key), signer.max_age(key, now), secure=_secure(request))
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep) -> Response:
    """End the session here and in the browser, then go back to the sign-in page."""
    await end_session(_signer(request), _ended(services), request.cookies.get(COOKIE))
    response = RedirectResponse("/login", 303, headers={"Cache-Control": "no-store"})
    clear_session(response, secure=_secure(request))
    return response
