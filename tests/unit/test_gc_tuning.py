"""`paused_collections`: no cyclic collection inside, the collector's state back afterwards."""

from __future__ import annotations

import gc

import pytest

from service.store.projection.gc_tuning import paused_collections


def test_the_collector_is_paused_and_enabled_again() -> None:
    assert gc.isenabled()
    with paused_collections():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.unfreeze()


def test_it_is_enabled_again_after_an_exception() -> None:
    with pytest.raises(RuntimeError), paused_collections():
        raise RuntimeError
    assert gc.isenabled()
    gc.unfreeze()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with paused_collections():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_what_the_block_kept_is_frozen() -> None:
    before = gc.get_freeze_count()
    with paused_collections():
        kept = [[n] for n in range(1000)]
    assert gc.get_freeze_count() >= before + len(kept)
    gc.unfreeze()
