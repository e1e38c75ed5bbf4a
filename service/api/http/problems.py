"""RFC 9457 problem details: every error the API gives is `application/problem+json`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.application.errors import (
    PositionBeyondHead,
    ReadModelsLagging,
    ReplicaLagging,
    TooManyExports,
    UseCaseRefused,
)
from service.store.database.unreachable import DATABASE_ERRORS, is_database_unavailable

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://funnel-ledger.dev/problems/"
_log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_SECONDS = 2

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {
        "description": "An error, as RFC 9457 problem details (never a stack trace or SQL).",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    }
}
"""Documents, on every route, that any error is a problem (401, 403, 413, 422, 429, 504…)."""


class Problem(Exception):  # noqa: N818 - it is an HTTP problem, as RFC 9457 names it
    """An error answered as problem details; extra members go into the body as they are."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra


def refusal_problem(refused: UseCaseRefused) -> Problem:
    """The problem that tells an HTTP client why a use case refused."""
    if isinstance(refused, PositionBeyondHead):
        return Problem(
            422,
            "position-beyond-head",
            f"{refused}; min_position must come from an append",
            title="Invalid request",
            errors=[{"pointer": "/query/min_position", "detail": "beyond the newest event"}],
        )
    if isinstance(refused, ReadModelsLagging):
        return Problem(
            503,
            "projection-lagging",
            f"{refused}; try again shortly",
            title="Read models are catching up",
            headers={"Retry-After": "1"},
            wanted_position=refused.position,
        )
    if isinstance(refused, ReplicaLagging):
        return Problem(
            503,
            "replica-lagging",
            f"{refused}; try again shortly",
            title="The read replica is catching up",
            headers={"Retry-After": "1"},
            wanted_position=refused.position,
        )
    if isinstance(refused, TooManyExports):
        seconds = refused.retry_after_seconds
        return Problem(
            503,
            "too-many-exports",
            f"{refused}; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
            retry_after_seconds=seconds,
        )
    raise TypeError(f"no problem for {type(refused).__name__}")  # a new refusal needs one


def problem_body(
    status: int, slug: str | None, title: str, detail: str, instance: str, **extra: Any
) -> dict[str, Any]:
    """The JSON body of a problem."""
    return {
        "type": f"{_TYPE_BASE}{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }


def problem_response(problem: Problem, instance: str) -> JSONResponse:
    """The HTTP response for a `Problem`."""
    body = problem_body(
        problem.status, problem.slug, problem.title, problem.detail, instance, **problem.extra
    )
    return JSONResponse(body, problem.status, headers=problem.headers, media_type=PROBLEM_JSON)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


async def _on_refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UseCaseRefused)
    return problem_response(refusal_problem(exc), request.url.path)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    body = problem_body(status, None, HTTPStatus(status).phrase, str(exc.detail), request.url.path)
    return JSONResponse(body, status, headers=exc.headers, media_type=PROBLEM_JSON)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"pointer": "/" + "/".join(str(p) for p in error.get("loc", ())), "detail": error["msg"]}
        for error in exc.errors()
    ]
    body = problem_body(
        422,
        "invalid-request",
        "Invalid request",
        "the request has invalid parameters",
        request.url.path,
        errors=errors,
    )
    return JSONResponse(body, 422, media_type=PROBLEM_JSON)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = problem_body(
        500,
        "internal-error",
        "Internal Server Error",
        "the service failed to answer; nothing was stored by this request",
        request.url.path,
    )
    return JSONResponse(body, 500, media_type=PROBLEM_JSON)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_unavailable(exc):
        raise exc  # any other database error stays a 500, answered by `_on_unexpected`
    _log.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    body = problem_body(
        503,
        "database-unavailable",
        "Database unavailable",
        "the database cannot be reached right now (restarting or unreachable); retry shortly. "
        "A write is stored whole or not at all: re-send it unchanged, duplicates are recognised",
        request.url.path,
    )
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    return JSONResponse(body, 503, headers=headers, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of the app a problem+json answer, without stack traces or SQL."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(UseCaseRefused, _on_refusal)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_unexpected)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _on_database_error)
