"""Webhook receivers under test: the app configured with the test mapping and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings
from tests.conftest import make_settings
from tests.webhooks import SECRETS, write_config


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings naming the test webhook mapping; its secrets set in the environment."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return make_settings(database_url, FUNNEL_WEBHOOKS_CONFIG=str(write_config(tmp_path)))
