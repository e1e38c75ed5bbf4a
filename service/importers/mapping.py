"""The importers' mapping: the `salesforce` and `hubspot` sections of the webhook mapping file.

The same file configures the live receivers; an import needs no secret, so the `*_env` keys
are left aside and nothing is read from the environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from service.webhooks.config import HubSpotMapping, Rule, SalesforceConfig


class MappingProblem(Exception):  # noqa: N818 - a user's configuration, not a bug
    """The mapping file cannot drive this import; the message says why."""


@dataclass(frozen=True, slots=True)
class ImportMapping:
    """The sections an import reads."""

    salesforce: SalesforceConfig | None
    hubspot: HubSpotMapping | None


def _without_secrets(section: object) -> object:
    if not isinstance(section, dict):
        return section
    return {key: value for key, value in section.items() if not str(key).endswith("_env")}


def _raw(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise MappingProblem(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(raw, dict):
        raise MappingProblem(f"{path}: not a mapping of sections")
    return raw


def _check_visits(rules: Iterable[Rule | None], first_visit_is_fsi: bool, where: str) -> None:
    for rule in rules:
        if (
            rule is not None
            and rule.type == "visit.completed"
            and not first_visit_is_fsi
            and rule.data.get("kind") not in {"FSI", "FUA"}
        ):
            raise MappingProblem(
                f"{where}: a visit.completed rule needs data.kind (FSI or FUA), "
                "or first_visit_is_fsi: true"
            )


def load_import_mapping(path: Path) -> ImportMapping:
    """The `salesforce` and `hubspot` sections of `path`, validated (secrets not needed)."""
    raw = _raw(path)
    try:
        salesforce = (
            SalesforceConfig.model_validate(_without_secrets(raw["salesforce"]))
            if raw.get("salesforce") is not None
            else None
        )
        hubspot = (
            HubSpotMapping.model_validate(_without_secrets(raw["hubspot"]))
            if raw.get("hubspot") is not None
            else None
        )
    except ValidationError as exc:
        raise MappingProblem(f"{path}: {exc}") from exc
    if salesforce is not None:
        _check_visits(salesforce.activities.values(), salesforce.first_visit_is_fsi, "salesforce")
    if hubspot is not None:
        _check_visits(hubspot.activities.values(), hubspot.first_visit_is_fsi, "hubspot")
    return ImportMapping(salesforce, hubspot)
