"""`KeyedRoute` serves only endpoints of the form (request, key): anything else fails at start-up."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response

from service.api.security.auth import WriterKey
from service.api.security.keyed_route import KeyedRoute


async def _stamp(request: Request) -> None:
    request.state.stamped = True


def test_an_endpoint_with_other_parameters_is_refused() -> None:
    router = APIRouter(route_class=KeyedRoute)

    async def with_a_query(request: Request, key: WriterKey, limit: int = 1) -> Response:
        return Response()

    with pytest.raises(TypeError, match="takes \\(request, key\\)"):
        router.post("/x")(with_a_query)


def test_an_endpoint_without_a_key_is_refused() -> None:
    router = APIRouter(route_class=KeyedRoute)

    async def keyless(request: Request) -> Response:
        return Response()

    with pytest.raises(TypeError):
        router.post("/x")(keyless)


async def test_a_router_dependency_cannot_be_skipped_silently() -> None:
    router = APIRouter(route_class=KeyedRoute)

    async def keyed(request: Request, key: WriterKey) -> Response:
        return Response()

    router.post("/x")(keyed)
    app = FastAPI()
    app.include_router(router, dependencies=[Depends(_stamp)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        # FastAPI builds an included route's handler when it is first matched.
        with pytest.raises(TypeError, match="takes \\(request, key\\)"):
            await client.post("/x")
