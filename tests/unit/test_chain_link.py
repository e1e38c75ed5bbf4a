"""A link built from its template is byte for byte the canonical form of its chain record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.store.chain.hashing import canonical_json, chain_record, iso, link_template

TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=12,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text("abcdefgh_", min_size=1, max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
OBJECTS = st.dictionaries(st.text("abcdefgh_", min_size=1, max_size=8), JSON_VALUES, max_size=5)
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(
    subject=TEXT,
    source=TEXT,
    event_id=TEXT,
    event_type=TEXT,
    schema_version=st.integers(1, 5),
    occurred_at=INSTANTS,
    recorded_at=INSTANTS,
    data=OBJECTS,
    metadata=OBJECTS,
    position=st.integers(1, 2**62),
    stream_version=st.integers(1, 2**31 - 1),
    prev_hash=st.binary(min_size=32, max_size=32),
)
def test_template_links_equal_the_canonical_record(
    subject: str,
    source: str,
    event_id: str,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    data: dict[str, Any],
    metadata: dict[str, Any],
    position: int,
    stream_version: int,
    prev_hash: bytes,
) -> None:
    reference = canonical_json(
        chain_record(
            position=position,
            subject=subject,
            stream_version=stream_version,
            source=source,
            event_id=event_id,
            event_type=event_type,
            schema_version=schema_version,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            data=data,
            metadata=metadata,
            prev_hash=prev_hash,
        )
    )
    template = link_template(
        subject=subject,
        source=source,
        event_id=event_id,
        event_type=event_type,
        schema_version=schema_version,
        occurred_at=iso(occurred_at),
        data=canonical_json(data),
        metadata=canonical_json(metadata),
    )
    link = template.link(
        position=position,
        prev_hash=prev_hash,
        recorded_at=orjson.dumps(iso(recorded_at)),
        stream_version=stream_version,
    )
    assert link == reference
