"""A route class for the busiest endpoint: its key checked without FastAPI's dependency solving.

FastAPI resolves every declared dependency of a route on every request, through a generic
machinery that cost a single-event `POST /v1/events` about a tenth of its CPU. A `KeyedRoute` is
declared, documented and guarded like any route (its OpenAPI security, its scope, its responses),
but serves a request by calling its one `KeyRequirement` and then the endpoint, directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.api.security.auth import KeyRequirement
from service.keys.api_keys import ApiKey

KeyedEndpoint = Callable[[Request, ApiKey], Awaitable[Response]]


def served_dependant(route: APIRoute) -> Dependant:
    """The dependant FastAPI would serve: a route included in a router carries the router's
    dependencies too."""
    context = routing._effective_route_context_var.get()
    if context is not None and context.original_route is route and context.dependant:
        served: Dependant = context.dependant
        return served
    return route.dependant


def _requirement(dependant: Dependant, name: str) -> KeyRequirement:
    """The route's one dependency, a `KeyRequirement` (else a `TypeError` at start-up)."""
    calls = [dependency.call for dependency in dependant.dependencies]
    parameters = (
        dependant.path_params
        + dependant.query_params
        + dependant.header_params
        + dependant.cookie_params
        + dependant.body_params
    )
    if len(calls) != 1 or not isinstance(calls[0], KeyRequirement) or parameters:
        raise TypeError(f"{name}: a KeyedRoute's endpoint takes (request, key) and nothing else")
    return calls[0]


class KeyedRoute(APIRoute):
    """An `APIRoute` for an endpoint `(request: Request, key: <a KeyRequirement>) -> Response`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Check the key, then call the endpoint: nothing else to resolve."""
        requirement = _requirement(served_dependant(self), self.name)
        endpoint: KeyedEndpoint = self.endpoint

        async def handler(request: Request) -> Response:
            return await endpoint(request, await requirement(request))

        return handler
