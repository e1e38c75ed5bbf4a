"""Typed dependencies that routes declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.application.services import Services


async def get_services(request: Request) -> Services:
    """The running service's collaborators."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
