"""The event vocabulary: CloudEvents envelopes, typed data models and the stored event record."""

from service.events.envelope import CloudEvent, EnvelopeError, parse_event
from service.events.recorded import RecordedEvent
from service.events.vocabulary import EVENT_TYPES, EventData, data_model_for

__all__ = [
    "EVENT_TYPES",
    "CloudEvent",
    "EnvelopeError",
    "EventData",
    "RecordedEvent",
    "data_model_for",
    "parse_event",
]
