"""Planning an append under the lock: which events are new, duplicate, or refused, and where.

Pure bookkeeping over a `LogView` (what the log holds for the keys and subjects at hand, plus what
earlier requests of the same transaction added); no I/O. A refused request leaves the view as it
was, so the other requests of a group commit are unaffected.

The per-event records here are plain (not frozen) dataclasses, to be treated as immutable: a
frozen dataclass costs five times as much to build, and several are built per event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from service.events.envelope import CloudEvent
from service.events.instants import utc_iso_json
from service.events.upcasting import current_version
from service.events.vocabulary import RETRACTION
from service.store.chain.hashing import LinkTemplate, link_hash, link_template
from service.store.errors import (
    KeyReuseConflict,
    RejectedItem,
    RetractionRejected,
    VersionConflict,
)

Key = tuple[str, str]


@dataclass(slots=True)
class AppendResult:
    """What happened to one event of a batch."""

    source: str
    id: str
    status: Literal["created", "duplicate"]
    position: int
    stream_version: int


@dataclass(slots=True)
class Stored:
    """What the plan needs to know of an event already in the log (or planned before)."""

    fingerprint: bytes
    position: int
    stream_version: int
    subject: str
    type: str
    retracted: bool


@dataclass(slots=True)
class Prepared:
    """An event made ready for the log before the lock is taken: its stored texts (canonical
    JSON), its type's current schema version and the template of its chain link."""

    event: CloudEvent
    data: str
    metadata: str
    template: LinkTemplate
    schema_version: int


def prepare(events: Sequence[CloudEvent], metadata: Mapping[str, Any]) -> list[Prepared]:
    """Everything about `events` that does not depend on the log's state (no I/O)."""
    prepared: list[Prepared] = []
    for event in events:
        event_metadata: dict[str, Any] = {**metadata, "time": event.original_time}
        if event.extensions:
            event_metadata["extensions"] = dict(event.extensions)
        data = event.canonical_data()
        meta = orjson.dumps(event_metadata, option=orjson.OPT_SORT_KEYS)
        version = current_version(event.type)
        template = link_template(
            subject=event.subject,
            source=event.source,
            event_id=event.id,
            event_type=event.type,
            schema_version=version,
            occurred_at=event.time_text,
            data=data,
            metadata=meta,
        )
        prepared.append(Prepared(event, data.decode(), meta.decode(), template, version))
    return prepared


@dataclass(slots=True)
class NewRow:
    """An event to insert, with everything the events table needs."""

    position: int
    stream_version: int
    prepared: Prepared
    fingerprint: bytes
    hash: bytes

    @property
    def event(self) -> CloudEvent:
        """The validated event."""
        return self.prepared.event


@dataclass(slots=True)
class LogView:
    """The log's state relevant to a group of requests, as seen under the append lock."""

    stored: dict[Key, Stored]
    versions: dict[str, int]
    position: int
    prev_hash: bytes
    recorded_at: datetime
    rows: list[NewRow] = field(default_factory=list)


@dataclass(slots=True)
class _Draft:
    """One request's tentative changes, merged into the view only if it is accepted."""

    stored: dict[Key, Stored] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    retracted: set[Key] = field(default_factory=set)


def retraction_target(event: CloudEvent) -> Key:
    """The (source, id) a retraction names."""
    data = event.data_json()
    return (str(data["event_source"]), str(data["event_id"]))


def plan_request(view: LogView, prepared: Sequence[Prepared]) -> list[AppendResult]:
    """Plan one request's events against `view`; raise `AppendRejected` and change nothing."""
    events = [item.event for item in prepared]
    draft = _Draft()
    fingerprints = [event.fingerprint() for event in events]
    _refuse_key_reuse(view, events, fingerprints)
    results: list[AppendResult] = []
    new: list[tuple[int, CloudEvent, bytes]] = []
    for index, (event, fingerprint) in enumerate(zip(events, fingerprints, strict=True)):
        known = draft.stored.get(event.key) or view.stored.get(event.key)
        if known is not None:
            results.append(
                AppendResult(
                    event.source, event.id, "duplicate", known.position, known.stream_version
                )
            )
            continue
        position = view.position + len(new) + 1
        version = _next_version(view, draft, event)
        draft.stored[event.key] = Stored(
            fingerprint, position, version, event.subject, event.type, retracted=False
        )
        new.append((index, event, fingerprint))
        results.append(AppendResult(event.source, event.id, "created", position, version))
    _check_versions(view, new)
    _check_retractions(view, draft, new)
    _commit(view, draft, new, prepared)
    return results


def _refuse_key_reuse(
    view: LogView, events: Sequence[CloudEvent], fingerprints: list[bytes]
) -> None:
    seen: dict[Key, bytes] = {}
    conflicts: list[RejectedItem] = []
    for index, (event, fingerprint) in enumerate(zip(events, fingerprints, strict=True)):
        stored = view.stored.get(event.key)
        known = stored.fingerprint if stored is not None else seen.get(event.key)
        if known is not None and known != fingerprint:
            conflicts.append(
                RejectedItem(
                    index,
                    "this (source, id) is already used by an event with other content",
                    source=event.source,
                    id=event.id,
                )
            )
        seen.setdefault(event.key, fingerprint)
    if conflicts:
        raise KeyReuseConflict(conflicts)


def _next_version(view: LogView, draft: _Draft, event: CloudEvent) -> int:
    subject = event.subject
    current = draft.versions.get(subject, view.versions.get(subject, 0))
    draft.versions[subject] = current + 1
    return current + 1


def _check_versions(view: LogView, new: list[tuple[int, CloudEvent, bytes]]) -> None:
    """Each `expectedversion` must equal the stream's version just before its event."""
    running: dict[str, int] = {}
    mismatches: list[RejectedItem] = []
    for index, event, _ in new:
        current = running.get(event.subject, view.versions.get(event.subject, 0))
        expected = event.expected_version
        if expected is not None and expected != current:
            mismatches.append(
                RejectedItem(
                    index,
                    f"expected version {expected} of stream {event.subject!r}, "
                    f"but it is at version {current}",
                    source=event.source,
                    id=event.id,
                )
            )
        running[event.subject] = current + 1
    if mismatches:
        raise VersionConflict(mismatches)


def _check_retractions(
    view: LogView, draft: _Draft, new: list[tuple[int, CloudEvent, bytes]]
) -> None:
    """A retraction must name an existing, unretracted, non-retraction event of its subject."""
    problems: list[RejectedItem] = []
    earlier: set[Key] = set()
    for index, event, _ in new:
        if event.type == RETRACTION:
            target = retraction_target(event)
            problem = _retraction_problem(view, draft, event, target, earlier)
            if problem:
                problems.append(RejectedItem(index, problem, event.source, event.id))
            draft.retracted.add(target)
        earlier.add(event.key)
    if problems:
        raise RetractionRejected(problems)


def _retraction_problem(
    view: LogView, draft: _Draft, event: CloudEvent, target: Key, earlier: set[Key]
) -> str | None:
    name = f"event (source={target[0]!r}, id={target[1]!r})"
    in_request = draft.stored.get(target) if target in earlier else None
    stored = view.stored.get(target) or in_request
    if stored is None:
        return f"the retracted {name} does not exist"
    if stored.subject != event.subject:
        return f"the retracted {name} belongs to another subject ({stored.subject!r})"
    if stored.type == RETRACTION:
        return f"the {name} is itself a retraction and cannot be retracted"
    if stored.retracted or target in draft.retracted:
        return f"the {name} is already retracted"
    return None


def _commit(
    view: LogView,
    draft: _Draft,
    new: list[tuple[int, CloudEvent, bytes]],
    prepared: Sequence[Prepared],
) -> None:
    recorded_at = utc_iso_json(view.recorded_at)
    for index, event, fingerprint in new:
        planned = draft.stored[event.key]
        item = prepared[index]
        view.prev_hash = link_hash(
            item.template.link(
                position=planned.position,
                prev_hash=view.prev_hash,
                recorded_at=recorded_at,
                stream_version=planned.stream_version,
            )
        )
        view.rows.append(
            NewRow(planned.position, planned.stream_version, item, fingerprint, view.prev_hash)
        )
    view.position += len(new)
    view.stored.update(draft.stored)
    view.versions.update(draft.versions)
    for target in draft.retracted:
        previous = view.stored[target]
        view.stored[target] = Stored(
            previous.fingerprint,
            previous.position,
            previous.stream_version,
            previous.subject,
            previous.type,
            retracted=True,
        )
