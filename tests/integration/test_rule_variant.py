"""The rule table is the one place to edit: with a stage and a counted type added there, every
reader (the fold, the SQL read models and a rebuild, the in-memory copy, the reporting views)
still agrees with the fold on generated histories.

The readers take their values from the table when they are imported, so the changed table runs
in a process of its own (`tests/rule_variant.py`, loaded as a pytest plugin before the service).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READERS = (
    "tests/integration/test_rule_table.py",
    "tests/integration/test_read_models.py",
    "tests/integration/test_reporting.py::"
    "test_deal_state_and_facts_views_equal_the_fold_on_generated_histories",
)


async def test_every_reader_follows_a_changed_rule_table() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "tests.rule_variant",
        "-p",
        "no:cacheprovider",
        "-q",
        *READERS,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    # The run used the changed table, and its histories held the new event types.
    found = re.findall(r"rule variant: (\d+) (\S+) events generated", output)
    generated = {event_type: int(count) for count, event_type in found}
    assert set(generated) == {"deal.proposal_sent", "deal.requalified"}, output
    assert all(count > 0 for count in generated.values()), output
    assert re.search(r"(\d+) passed", output) is not None
