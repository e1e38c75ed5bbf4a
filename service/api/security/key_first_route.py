"""A route class that checks the request's key before FastAPI reads and parses its body.

FastAPI reads and decodes a route's body before it solves the route's dependencies, the key
among them: an anonymous client could make it parse a body (and learn from a 422 what it
expects) without any key. A `KeyFirstRoute` checks its `KeyRequirement` first; the requirement
keeps the key on the request, so the dependency solved afterwards neither looks it up again nor
spends the rate limit twice. Once the key is good, a JSON body that gives a key twice is
refused (422 `duplicate-keys`), as on `POST /v1/events`: the parser would keep the last silently.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from service.api.http.problems import Problem
from service.api.security.auth import KeyRequirement
from service.api.security.keyed_route import served_dependant
from service.events.json_keys import DuplicateKeys, check_unique_keys


class KeyFirstRoute(APIRoute):
    """An `APIRoute` whose `KeyRequirement` runs before the body is read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The usual handler, behind the key check when the route takes a body."""
        handler = super().get_route_handler()
        dependant = served_dependant(self)
        requirements = [
            dependency.call
            for dependency in dependant.dependencies
            if isinstance(dependency.call, KeyRequirement)
        ]
        if not dependant.body_params or not requirements:
            return handler
        requirement = requirements[0]

        async def key_first(request: Request) -> Response:
            await requirement(request)
            await _refuse_repeated_keys(request)
            return await handler(request)

        return key_first


async def _refuse_repeated_keys(request: Request) -> None:
    """422 when the JSON body gives a key twice (the body is read once, and kept for FastAPI)."""
    body = await request.body()
    try:
        check_unique_keys(body, orjson.loads(body))
    except orjson.JSONDecodeError:
        return  # not JSON: FastAPI's own validation names the problem
    except DuplicateKeys as exc:
        raise Problem(
            422,
            "duplicate-keys",
            "an object of the body gives a key more than once; nothing was stored",
            title="Duplicate keys",
            errors=[{"pointer": pointer, "detail": detail} for pointer, detail in exc.problems],
        ) from exc
