"""Free heap memory goes back to the system after a full load of the copy (glibc)."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from service.store.mirror.heap import give_back_free_memory

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_the_memory_a_load_freed_goes_back_to_the_system() -> None:
    # Given 200 MB of small blocks from the C heap (above pymalloc's size, below mmap's), all
    # freed but every sixteenth, so that the free memory is not at the heap's top
    blocks = [bytes(1024) + bytes([n % 256]) for n in range(200_000)]
    kept = blocks[::16]
    held = _rss_mb()
    del blocks
    # When the free memory is given back
    assert give_back_free_memory()
    # Then most of it has left the process
    assert _rss_mb() < held - 100
    assert len(kept) == 12_500
