"""The webhook mapping file: validated at start-up, secrets taken from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.webhooks.config import load_webhook_config
from tests.webhooks import SECRETS, write_config


def test_the_documented_shape_loads_with_secrets_from_the_environment(tmp_path: Path):
    config = load_webhook_config(write_config(tmp_path), SECRETS)
    assert config.hubspot is not None and config.pipedrive is not None
    assert (
        config.hubspot.rep(7001) == "R-07" and config.pipedrive.stages["2"].type == "deal.qualified"
    )
    assert config.hubspot.stages["closedlost"].data == {"reason": "closed lost in HubSpot"}
    assert config.hubspot.client_secret.get_secret_value() == SECRETS["TEST_HUBSPOT_SECRET"]
    assert SECRETS["TEST_HUBSPOT_SECRET"] not in repr(config)


def test_no_file_means_no_receivers():
    config = load_webhook_config(None, {})
    assert (config.hubspot, config.pipedrive, config.aircall, config.standard) == (
        None,
        None,
        None,
        {},
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("aircall: {token_env: NOT_SET}", "NOT_SET"),
        (
            "pipedrive: {username_env: A, password_env: B, stages: {1: deal.teleported}}",
            "teleported",
        ),
        ("hubspot: {client_secret_env: A, stages: {x: event.retracted}}", "event.retracted"),
        ("standard: {erp: {secrets_env: [A]}}", "whsec_"),
        ("aircall: {token_env: A, surprise: 1}", "surprise"),
    ],
)
def test_invalid_configuration_is_refused_naming_the_problem(tmp_path: Path, text, complaint):
    path = tmp_path / "webhooks.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError, match=complaint):
        load_webhook_config(path, {"A": "not base64 !", "B": "b"})
