"""WAL locations as byte offsets, for the replica's lag in `/readyz`."""

from __future__ import annotations

from service.store.database.replica import lsn_bytes


def test_a_wal_location_is_its_high_and_low_words() -> None:
    assert lsn_bytes("0/0") == 0
    assert lsn_bytes("0/16B3748") == 0x16B3748
    assert lsn_bytes("16/B374D848") == (0x16 << 32) + 0xB374D848


def test_the_lag_in_bytes_is_the_difference_of_two_locations() -> None:
    assert lsn_bytes("1/0") - lsn_bytes("0/FFFFFFFF") == 1
