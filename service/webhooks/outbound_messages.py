"""Salesforce Outbound Messages: a SOAP 1.1 `notifications` body, read safely, and its Ack.

The body is parsed by `defusedxml` with DTDs forbidden: a document type declaration is refused
where it starts, so no entity is ever declared, expanded or fetched. An entity the document did
not declare is a plain parse error. The session id a message may carry is a credential to the
sender's org: it is never read out of the tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

SOAP_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOBJECT = "urn:sobject.enterprise.soap.sforce.com"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENVELOPE}">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body>"
    "</soapenv:Envelope>\n"
).encode()
"""The acknowledgement Salesforce waits for; without it, it retries the message for 24 hours."""


class UnreadableMessage(Exception):  # noqa: N818 - an outcome of reading, as SOAP names it
    """The body is not a Salesforce Outbound Message that may be read; `forbidden` when it
    declares a DTD, an entity or an external reference."""

    def __init__(self, reason: str, *, forbidden: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden


@dataclass(frozen=True, slots=True)
class Notification:
    """One `Notification`: its id (the same on each retry), the sObject's type and fields.

    A field sent as `xsi:nil="true"` (or empty) is `None`.
    """

    id: str
    object_type: str
    fields: Mapping[str, str | None]

    def payload(self) -> dict[str, object]:
        """The notification as the inbox keeps it."""
        return {"notification_id": self.id, "type": self.object_type, "fields": dict(self.fields)}


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A `notifications` call: the sending org, the action that fired, the notifications."""

    organization_id: str
    action_id: str
    notifications: tuple[Notification, ...]


def _q(name: str, namespace: str = OUTBOUND) -> str:
    return f"{{{namespace}}}{name}"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(element: Element | None) -> str | None:
    if element is None or element.get(_q("nil", XSI)) == "true":
        return None
    return (element.text or "").strip() or None


def _required(parent: Element, name: str) -> str:
    value = _text(parent.find(_q(name)))
    if value is None:
        raise UnreadableMessage(f"the notifications element has no {name}")
    return value


def _notification(element: Element) -> Notification:
    sobject = element.find(_q("sObject"))
    notification_id = _text(element.find(_q("Id")))
    if notification_id is None or sobject is None:
        raise UnreadableMessage("a Notification has no Id or no sObject")
    # xsi:type is a QName such as `sf:Opportunity`; the object's name is its local part.
    object_type = (sobject.get(_q("type", XSI)) or "").rpartition(":")[2]
    fields = {_local(field.tag): _text(field) for field in sobject}
    return Notification(notification_id, object_type, fields)


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """The Outbound Message in `body`, or `UnreadableMessage` saying why it cannot be read."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        reason = "the body declares a DTD, an entity or an external reference"
        raise UnreadableMessage(reason, forbidden=True) from exc
    except ParseError as exc:
        raise UnreadableMessage(f"the body is not well-formed XML ({exc})") from exc
    body_element = (
        root.find(_q("Body", SOAP_ENVELOPE)) if root.tag == _q("Envelope", SOAP_ENVELOPE) else None
    )
    notifications = None if body_element is None else body_element.find(_q("notifications"))
    if notifications is None:
        raise UnreadableMessage(
            "not a SOAP 1.1 envelope carrying Salesforce's outbound `notifications`"
        )
    return OutboundMessage(
        organization_id=_required(notifications, "OrganizationId"),
        action_id=_required(notifications, "ActionId"),
        notifications=tuple(
            _notification(element) for element in notifications.findall(_q("Notification"))
        ),
    )
