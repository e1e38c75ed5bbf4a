"""An event's fingerprint keeps the form stored fingerprints were made with."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from service.events.envelope import CloudEvent
from service.events.vocabulary import DealLost, DealQualified, LeadSourced


@pytest.mark.parametrize(
    "data",
    [
        LeadSourced(rep_id="R-1", account={"name": 'Acme "Ü" Ltd'}, channel="web"),
        DealQualified(rep_id="R-2", amount="1200.50", currency="TWD"),
        DealLost(rep_id="R-3", reason="no budget\nthis year"),
    ],
)
@pytest.mark.parametrize(
    "time",
    [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=8))),
    ],
)
def test_fingerprint_is_the_digest_of_the_sorted_content(
    data: LeadSourced | DealQualified | DealLost, time: datetime
) -> None:
    event = CloudEvent(
        id="e-1", source="crm", type="x.y", subject="D-1 \u00e9", time=time, data=data
    )
    content = {
        "type": "x.y",
        "subject": "D-1 \u00e9",
        "time": time.isoformat(),
        "data": data.model_dump(mode="json", exclude_none=True),
    }
    expected = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).digest()
    assert event.fingerprint() == expected
    assert event.canonical_data() == orjson.dumps(
        data.model_dump(mode="json", exclude_none=True), option=orjson.OPT_SORT_KEYS
    )
