"""One vendor's mapping, as the importers use it: the same for Salesforce and HubSpot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.webhooks.config import HubSpotMapping, Rule, SalesforceConfig


@dataclass(frozen=True, slots=True)
class ImportRules:
    """Which vendor stage, user and activity type becomes which contract event."""

    vendor: str
    source: str
    subject: str
    users: Mapping[str, str]
    default_rep_id: str | None
    currency: str | None
    stages: Mapping[str, Rule | None]
    deal_created: Rule | None
    channels: Mapping[str, str]
    activities: Mapping[str, Rule | None]
    first_visit_is_fsi: bool

    def rep(self, user: str | None) -> str | None:
        """The rep of a vendor user id, if mapped."""
        return None if user is None else self.users.get(user)

    def deal_subject(self, vendor_id: str) -> str:
        """The subject of a vendor record id, from the template (`SF-{id}`)."""
        return self.subject.replace("{id}", vendor_id)

    @classmethod
    def salesforce(cls, config: SalesforceConfig) -> ImportRules:
        """The rules of a `salesforce` section."""
        return cls(
            vendor="Salesforce",
            source=config.source,
            subject=config.subject,
            users=config.users,
            default_rep_id=config.default_rep_id,
            currency=config.currency,
            stages=config.stages,
            deal_created=config.deal_created,
            channels=config.channels,
            activities=config.activities,
            first_visit_is_fsi=config.first_visit_is_fsi,
        )

    @classmethod
    def hubspot(cls, config: HubSpotMapping) -> ImportRules:
        """The rules of a `hubspot` section."""
        return cls(
            vendor="HubSpot",
            source=config.source,
            subject=config.subject,
            users=config.users,
            default_rep_id=config.default_rep_id,
            currency=config.currency,
            stages=dict(config.stages),
            deal_created=config.deal_created,
            channels={},
            activities=dict(config.activities),
            first_visit_is_fsi=config.first_visit_is_fsi,
        )
