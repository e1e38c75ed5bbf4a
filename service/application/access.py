"""Who may use the service: the first administrator's key of a new store."""

from __future__ import annotations

from service.application.services import Services
from service.keys.api_keys import IssuedKey, Scope

FIRST_ADMIN = "bootstrap-admin"


async def first_admin_key(services: Services) -> IssuedKey | None:
    """On a store with no key yet, a new admin key (its token is shown once); else None."""
    if await services.keys.list():
        return None
    return await services.keys.create(FIRST_ADMIN, frozenset({Scope.ADMIN}))
