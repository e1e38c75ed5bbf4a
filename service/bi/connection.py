"""The connection string a BI tool uses to log in as a read-only role (docs/bi.md)."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.engine import URL, make_url

from service.embedded import DATABASE_NAME, running_address
from service.settings import Settings

_ANY_ADDRESS = {"*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - mapped away


def bi_connection_string(settings: Settings, role: str, password: str | None) -> str:
    """`postgresql://role[:password]@host:port/database` of the configured database.

    The embedded server answers on its TCP address when it listens on one
    (`FUNNEL_EMBEDDED_LISTEN`), else on its Unix socket, which only local tools can use.
    """
    if settings.database_url is not None:
        url = make_url(settings.database_url).set(drivername="postgresql", username=role)
        # `set` leaves a field it is given None for: `_replace` clears the service's password.
        return _with_password(url._replace(password=None), role, password)
    address = running_address(settings.data_dir)
    if address is None:
        raise RuntimeError("the embedded PostgreSQL is not running")
    if address.host is None:
        query = {"host": str(address.socket_dir), "port": str(address.port)}
        url = URL.create("postgresql", role, database=DATABASE_NAME, query=query)
    else:
        host = _ANY_ADDRESS.get(address.host, address.host)
        url = URL.create("postgresql", role, None, host, address.port, DATABASE_NAME)
    return _with_password(url, role, password)


def _with_password(url: URL, role: str, password: str | None) -> str:
    """The URL with every character of the password escaped (SQLAlchemy leaves spaces)."""
    text = url.render_as_string(hide_password=False)
    if password is None:
        return text
    # A role name is a plain identifier (a-z, 0-9, _): it needs no escaping.
    return text.replace(f"://{role}@", f"://{role}:{quote(password, safe='')}@", 1)
