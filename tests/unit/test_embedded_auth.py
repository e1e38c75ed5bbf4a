"""The embedded server's client authentication and the BI connection string, without a server."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.bi.connection import bi_connection_string
from service.embedded import Listen, client_auth
from service.settings import Settings


def test_only_the_services_own_os_user_is_trusted_and_only_over_the_socket():
    hba, ident = client_auth("alice")
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert rules == [
        ["local", "all", "postgres", "peer", "map=funnel"],
        ["local", "all", "all", "scram-sha-256"],
        ["host", "all", "postgres", "all", "reject"],
        ["host", "all", "all", "all", "scram-sha-256"],
    ]
    assert not [rule for rule in rules if "trust" in rule or "password" in rule or "md5" in rule]
    assert ident.split() == ["funnel", "alice", "postgres"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:5433", Listen("127.0.0.1", 5433)), ("[::1]:6000", Listen("::1", 6000))],
)
def test_a_listen_address_is_host_and_port(text, expected):
    assert Listen.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["5433", "127.0.0.1", "127.0.0.1:0", "h:70000", "h:\uff15\uff14", ":5433"]
)
def test_a_bad_listen_address_is_refused_at_start(text):
    with pytest.raises(ValidationError, match="HOST:PORT"):
        Settings.model_validate({"FUNNEL_EMBEDDED_LISTEN": text})


def test_the_connection_string_of_a_named_database_keeps_its_host_and_options():
    settings = Settings.model_validate(
        {"DATABASE_URL": "postgresql+asyncpg://svc:pw@db.internal:6432/ledger?sslmode=require"}
    )
    assert bi_connection_string(settings, "bi", "p@ss word") == (
        "postgresql://bi:p%40ss%20word@db.internal:6432/ledger?sslmode=require"
    )
    assert bi_connection_string(settings, "bi", None) == (
        "postgresql://bi@db.internal:6432/ledger?sslmode=require"
    )
