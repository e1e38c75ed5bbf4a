"""Vendor proofs: Standard Webhooks, HubSpot v3, HTTP Basic, body tokens, timestamp windows."""

from __future__ import annotations

import base64

import pytest

from service.durations import parse_duration
from service.webhooks.signatures import (
    Unauthenticated,
    check_basic,
    check_hubspot,
    check_standard,
    check_timestamp,
    check_token,
    hubspot_uri,
    hubspot_v3_signature,
    standard_signature,
)

# The example of the Standard Webhooks specification's reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_signature_matches_the_specification_example():
    assert standard_signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_standard_check_accepts_any_configured_secret_and_any_offered_signature():
    other = "whsec_" + base64.b64encode(b"another secret").decode()
    header = f"v1,AAAA {SPEC_SIGNATURE}"
    check_standard([other, SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY, header)
    with pytest.raises(Unauthenticated):
        check_standard([other], SPEC_ID, SPEC_TS, SPEC_BODY, header)
    with pytest.raises(Unauthenticated):
        check_standard([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY + b" ", header)
    with pytest.raises(Unauthenticated):
        check_standard([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY, None)


def test_hubspot_signs_the_decoded_uri_and_refuses_any_change():
    uri = "https://ledger.example.com/webhooks/hubspot?portal%3D1%2C2"
    assert hubspot_uri(uri) == "https://ledger.example.com/webhooks/hubspot?portal%3D1,2"
    body, stamp = b'[{"eventId":1}]', "1711447200000"
    signature = hubspot_v3_signature("s3cret", "POST", uri, body, stamp)
    check_hubspot("s3cret", "POST", uri, body, stamp, signature)
    for args in (
        ("other", "POST", uri, body, stamp),
        ("s3cret", "GET", uri, body, stamp),
        ("s3cret", "POST", uri + "x", body, stamp),
        ("s3cret", "POST", uri, body + b" ", stamp),
        ("s3cret", "POST", uri, body, "1711447200001"),
    ):
        with pytest.raises(Unauthenticated):
            check_hubspot(*args, signature)


def test_timestamp_window_is_symmetric_and_marks_expiry():
    check_timestamp(1000.0, 1300.0, 300)
    for sent in (699.0, 1301.0 + 300):
        with pytest.raises(Unauthenticated) as refused:
            check_timestamp(sent, 1000.0, 300)
        assert refused.value.expired


@pytest.mark.parametrize(
    "header",
    [None, "Basic", "Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"u:wrong").decode()],
)
def test_basic_credentials_must_match(header):
    check_basic("Basic " + base64.b64encode(b"u:p:w").decode(), "u", "p:w")
    with pytest.raises(Unauthenticated):
        check_basic(header, "u", "p:w")


@pytest.mark.parametrize("given", [None, 42, "", "tok", "token!"])
def test_body_token_must_match(given):
    check_token("token", "token")
    with pytest.raises(Unauthenticated):
        check_token(given, "token")


def test_durations():
    assert parse_duration("24h").total_seconds() == 86400
    assert parse_duration("0s").total_seconds() == 0
    for bad in ("", "24", "1w", "-1h", "91d", "1h30m"):
        with pytest.raises(ValueError, match=r"duration|90 days"):
            parse_duration(bad)
