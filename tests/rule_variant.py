"""A pytest plugin: the tests run with a rule table that has one more stage and one more counted type.

Loaded with `-p tests.rule_variant` by `tests/integration/test_rule_variant.py`, in a process of
its own and before anything of the service is imported, it does what an edit of
`service/projections/rules.py` (and of the vocabulary, for the new types' data) would do:

- stage `proposal`, between `opportunity` and `eb_committed`, entered by `deal.proposal_sent`
  and counted as an open opportunity;
- `deal.requalified`, which moves a deal to `opportunity` and counts as an opportunity;
- the test databases' `rules` tables seeded with the new table, as the generated seed migration
  would (`python -m service.projections.rule_text --migration`);
- the history generator delivers both new event types.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

_RULES = "service.projections.rules"
if _RULES in sys.modules:
    raise RuntimeError("the rule variant must be loaded before the service is imported")

# The rules module imports nothing of the service: load it alone, change its table, and let the
# package find it in place when the readers import it.
_spec = importlib.util.spec_from_file_location(
    _RULES, Path(__file__).resolve().parents[1] / "service" / "projections" / "rules.py"
)
assert _spec is not None and _spec.loader is not None
rules: Any = importlib.util.module_from_spec(_spec)
sys.modules[_RULES] = rules
_spec.loader.exec_module(rules)

PROPOSAL = "proposal"
PROPOSAL_SENT = "deal.proposal_sent"
REQUALIFIED = "deal.requalified"
NEW_TYPES = (PROPOSAL_SENT, REQUALIFIED)


def _variant(table: Any) -> Any:
    stages = list(table.stages)
    stages.insert(2, rules.StageRule(PROPOSAL, "Proposal", "#5aa6c0"))
    effects = {
        **table.effects,
        PROPOSAL_SENT: rules.StageEffect(PROPOSAL),
        REQUALIFIED: rules.StageEffect(rules.Stage.OPPORTUNITY),
    }
    flows = tuple(
        replace(flow, event_types=(*flow.event_types, REQUALIFIED))
        if flow.number == "opportunities"
        else flow
        for flow in table.flows
    )
    groups = tuple(
        replace(group, stages=(*group.stages, PROPOSAL))
        if group.number == "opportunities"
        else group
        for group in table.open_groups
    )
    return rules.RuleTable(
        stages=tuple(stages),
        effects=MappingProxyType(effects),
        flows=flows,
        split=table.split,
        open_groups=groups,
    )


rules.RULES = _variant(rules.RULES)

# Only now the rest: every reader takes its values from the changed table as it is imported.
import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from service.events import vocabulary  # noqa: E402
from service.projections.rule_text import seed_statements  # noqa: E402
from tests import databases, factories, histories  # noqa: E402


class ProposalSent(vocabulary.DealEventData):
    """A proposal went to the prospect."""


class Requalified(vocabulary.DealEventData):
    """A deal that had left the funnel is an opportunity again."""


for _name, _model in ((PROPOSAL_SENT, ProposalSent), (REQUALIFIED, Requalified)):
    vocabulary.EVENT_TYPES[_name] = vocabulary.EventType(
        name=_name, model=_model, subject_kind=vocabulary.SubjectKind.DEAL
    )

_prepare = databases.TestServer.prepare_template


async def _prepare_and_seed(self: databases.TestServer) -> None:
    await _prepare(self)
    url = make_url(databases.with_database(self.url, self.template))
    conn = await asyncpg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        for statement in seed_statements(rules.RULES):
            await conn.execute(statement)
    finally:
        await conn.close()


databases.TestServer.prepare_template = _prepare_and_seed  # type: ignore[method-assign]
histories.DEAL_TYPES = (*histories.DEAL_TYPES, *NEW_TYPES, *NEW_TYPES)

_made: dict[str, int] = dict.fromkeys(NEW_TYPES, 0)


def _counting_ce(event_type: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if event_type in _made:
        _made[event_type] += 1
    return factories.ce(event_type, *args, **kwargs)


setattr(histories, "ce", _counting_ce)  # noqa: B010 - the generator's own name for it


def pytest_report_header() -> str:
    """Say which table the run uses."""
    return f"rule variant: stages {', '.join(rules.RULES.stage_names)}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many events of the new types the generated histories held."""
    for event_type, count in _made.items():
        terminalreporter.write_line(f"rule variant: {count} {event_type} events generated")
