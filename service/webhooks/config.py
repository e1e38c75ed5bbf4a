"""The webhook mapping: a YAML or JSON file (FUNNEL_WEBHOOKS_CONFIG), secrets named by env vars.

The file says which vendor stage, status or activity type becomes which contract event, which
vendor user is which `rep_id`, and how a vendor deal id becomes a subject. It never holds a
secret: each `*_env` key names the environment variable that does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.events.vocabulary import EVENT_TYPES, RETRACTION

_NOT_MAPPABLE = frozenset({RETRACTION, "rep.team_assigned"})
WHSEC_PREFIX = "whsec_"
_URL_SAFE_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")


def _from_env(name: object, info: ValidationInfo) -> str:
    environ: Mapping[str, str] = (info.context or {}).get("environ", {})
    if not isinstance(name, str) or not name:
        raise ValueError("name the environment variable that holds the secret")
    value = environ.get(name)
    if not value:
        raise ValueError(f"the environment variable {name!r} is not set")
    return value


EnvSecret = Annotated[SecretStr, BeforeValidator(_from_env)]
"""A secret given in the file as the name of the environment variable that holds it."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


class Rule(_Model):
    """A contract event to emit: its type, and data fields fixed by configuration."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _mappable(cls, value: str) -> str:
        if value not in EVENT_TYPES or value in _NOT_MAPPABLE:
            raise ValueError(f"{value!r} is not a contract event type a webhook may produce")
        return value


def _rule(value: object) -> object:
    return {"type": value} if isinstance(value, str) else value


RuleSpec = Annotated[Rule, BeforeValidator(_rule)]
"""A rule, written either as an event type alone or as `{type, data}`."""


class _Vendor(_Model):
    source: str = Field(min_length=1, max_length=128)
    users: dict[str, str] = Field(default_factory=dict, description="vendor user id → rep_id")

    def rep(self, user_id: object) -> str | None:
        """The rep of a vendor user id, if mapped."""
        return None if user_id is None else self.users.get(str(user_id))


class HubSpotMapping(_Vendor):
    """The HubSpot mapping without its secret: what the webhooks and the importer share."""

    source: str = "hubspot"
    subject: str = "HS-{id}"
    currency: str | None = None
    default_rep_id: str | None = None
    stage_property: str = "dealstage"
    amount_property: str = "amount"
    owner_property: str = "hubspot_owner_id"
    stages: dict[str, RuleSpec] = Field(default_factory=dict)
    deal_created: RuleSpec | None = None
    activities: dict[str, RuleSpec] = Field(
        default_factory=dict, description="imported `call` / `meeting` objects → event"
    )
    first_visit_is_fsi: bool = Field(
        default=False, description="a deal's first visit is its FSI, later ones FUA"
    )


class HubSpotConfig(HubSpotMapping):
    """HubSpot app webhooks (signature v3)."""

    client_secret: EnvSecret = Field(alias="client_secret_env")


class SalesforceConfig(_Vendor):
    """Salesforce: the import of Data Loader / Bulk API exports, and Outbound Messages.

    `stages` maps a `StageName` to a rule, or to null for a stage that makes no event (so that
    it is not reported as unmapped). `activities` maps a Task's `TaskSubtype` or an Event's
    `Type` to `call.logged` or `visit.completed` (null: no event, not reported). `channels`
    maps `LeadSource` to a channel of `lead.sourced`. `organization_id` (and `secret_env`,
    optional) are the Outbound Message receiver's: the one organization whose messages are
    accepted, and the secret it sends.
    """

    source: str = "salesforce"
    subject: str = "SF-{id}"
    currency: str | None = Field(
        default=None, description="the org's currency when an export has no CurrencyIsoCode"
    )
    default_rep_id: str | None = None
    stages: dict[str, RuleSpec | None] = Field(default_factory=dict)
    deal_created: RuleSpec | None = None
    channels: dict[str, str] = Field(default_factory=dict, description="LeadSource → channel")
    activities: dict[str, RuleSpec | None] = Field(default_factory=dict)
    first_visit_is_fsi: bool = False
    organization_id: str | None = Field(default=None, min_length=15, max_length=18)
    secret: EnvSecret | None = Field(default=None, alias="secret_env")

    @field_validator("secret")
    @classmethod
    def _url_safe(cls, value: SecretStr | None) -> SecretStr | None:
        # It travels in the endpoint URL's query string: URL-safe, and too long to guess.
        if value is not None and not _URL_SAFE_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(
                "the Outbound Message secret must be 32 to 256 characters of A-Z, a-z, 0-9, "
                "'-' and '_' (it travels in the endpoint URL)"
            )
        return value


class PipedriveConfig(_Vendor):
    """Pipedrive webhooks v2 (HTTP Basic credentials)."""

    username: EnvSecret = Field(alias="username_env")
    password: EnvSecret = Field(alias="password_env")
    source: str = "pipedrive"
    subject: str = "PD-{id}"
    stages: dict[str, RuleSpec] = Field(default_factory=dict)
    statuses: dict[str, RuleSpec] = Field(default_factory=dict)
    activities: dict[str, RuleSpec] = Field(default_factory=dict)
    deal_created: RuleSpec | None = None


class AircallConfig(_Vendor):
    """Aircall webhooks (a token in the body)."""

    token: EnvSecret = Field(alias="token_env")
    source: str = "aircall"
    deal_tag_prefix: str = "deal:"
    numbers: dict[str, str] = Field(default_factory=dict, description="phone number → deal id")


def _whsec(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    try:
        base64.b64decode(text.removeprefix(WHSEC_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a Standard Webhooks secret is 'whsec_' and base64") from exc
    return value


class StandardSender(_Model):
    """One sender of Standard Webhooks carrying contract CloudEvents."""

    secrets: list[EnvSecret] = Field(alias="secrets_env", min_length=1)
    sources: list[str] = Field(default_factory=list, description="allowed CloudEvents sources")

    @field_validator("secrets")
    @classmethod
    def _decodable(cls, values: list[SecretStr]) -> list[SecretStr]:
        return [_whsec(value) for value in values]

    def allows(self, sender: str, source: str) -> bool:
        """Whether this sender may write events of `source` (default: its own name only)."""
        return source in (self.sources or [sender])


class WebhookConfig(_Model):
    """Every webhook receiver's configuration; a vendor left out has no receiver."""

    public_base_url: str | None = Field(
        default=None,
        description="the scheme and host vendors call, as HubSpot signs it "
        "(default: FUNNEL_PUBLIC_URL)",
    )
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    hubspot: HubSpotConfig | None = None
    pipedrive: PipedriveConfig | None = None
    aircall: AircallConfig | None = None
    salesforce: SalesforceConfig | None = None
    standard: dict[str, StandardSender] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _salesforce_receiver_needs_secret(self) -> WebhookConfig:
        # An organization id is no secret (it shows in every URL of the org): alone, it would
        # let anyone who learns it write to the ledger. (The importer reads the section alone.)
        sf = self.salesforce
        if sf is not None and sf.organization_id is not None and sf.secret is None:
            raise ValueError(
                "the Salesforce Outbound Message receiver (organization_id) needs secret_env"
            )
        return self

    @model_validator(mode="after")
    def _hubspot_knows_its_url(self) -> WebhookConfig:
        # HubSpot signs the URL it called. Without a configured one, the only other source is
        # the request's own Host header, which whoever sends the request chooses.
        if self.hubspot is not None and not self.public_base_url:
            raise ValueError(
                "the HubSpot receiver needs public_base_url (or FUNNEL_PUBLIC_URL): "
                "the URL HubSpot calls and signs"
            )
        return self


def load_webhook_config(
    path: Path | None, environ: Mapping[str, str], public_url: str | None = None
) -> WebhookConfig:
    """The configuration in `path` (none: no receivers), secrets taken from `environ`;
    `public_url` (the service's public URL) is the default `public_base_url`."""
    if path is None:
        return WebhookConfig()
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    raw = raw or {}
    if public_url is not None and isinstance(raw, dict) and not raw.get("public_base_url"):
        raw = {**raw, "public_base_url": public_url}
    return WebhookConfig.model_validate(raw, context={"environ": environ})
